/**
 * Fine-tuning: a copy of the encoder plus a linear head, trained end to end with softmax
 * cross-entropy on a (few-label) training subset for a few epochs with AdamW and a cosine
 * schedule, through the same Trainer as pretraining. The caller's encoder is never modified.
 */
import type { FeatureModule } from "../nn/module.js";
import type { DatasetSplit, InputSpec } from "../plugin/types.js";
import { Rng } from "../rng.js";
import { Trainer } from "../train/trainer.js";
import { SupervisedClassifier } from "./classifier.js";
import { accuracy } from "./features.js";

export interface FineTuneOptions {
  encoder: FeatureModule;
  train: DatasetSplit;
  test: DatasetSplit;
  input: InputSpec;
  numClasses: number;
  epochs?: number;
  lr?: number;
  weightDecay?: number;
  batchSize?: number;
  seed?: number;
}

export interface FineTuneResult {
  accuracy: number;
  finalLoss: number;
  steps: number;
}

export async function fineTune(opts: FineTuneOptions): Promise<FineTuneResult> {
  const seed = opts.seed ?? 0;
  const model = new SupervisedClassifier(opts.encoder.clone(), opts.numClasses, new Rng(seed));
  model.backbone.train(true);
  try {
    const trainer = new Trainer({
      method: model,
      dataset: { name: "fine-tune", input: opts.input, numClasses: opts.numClasses, train: opts.train },
      config: {
        epochs: opts.epochs ?? 20,
        batchSize: Math.min(opts.batchSize ?? 64, opts.train.size),
        seed,
        optimizer: { name: "adamw", lr: opts.lr ?? 1e-3, weightDecay: opts.weightDecay ?? 1e-4 },
        schedule: { name: "cosine" },
      },
    });
    // the optimizer's slots go with the trainer: one fine-tune runs per label draw
    const fit = await trainer.fit().finally(() => trainer.dispose());
    const { predictions, labels } = await model.predict(opts.test, opts.input, opts.batchSize ?? 256);
    return {
      accuracy: accuracy(predictions, labels),
      finalLoss: fit.losses.at(-1) ?? Number.NaN,
      steps: fit.step,
    };
  } finally {
    model.dispose();
  }
}
