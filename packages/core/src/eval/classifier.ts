/**
 * A supervised classifier as a Method: an encoder and a linear head trained with softmax
 * cross-entropy. It is what fine-tuning and the supervised sanity benchmark run through the
 * Trainer. (It reads labels, so it is not a self-supervised method and is not registered as one.)
 */

import { softmaxCrossEntropy } from "../nn/cross-entropy.js";
import { Linear } from "../nn/layers/linear.js";
import type { FeatureModule, Module } from "../nn/module.js";
import type {
  DatasetSplit,
  InputSpec,
  Method,
  StepContext,
  StepResult,
  TrainBatch,
} from "../plugin/types.js";
import { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { splitBatches } from "../train/loader.js";
import { EvaluationError } from "./features.js";

export interface SupervisedClassifierOptions {
  /** Train on one augmented view of each batch instead of the raw inputs (default false). */
  augmented?: boolean;
}

export class SupervisedClassifier implements Method {
  readonly name = "supervised";
  readonly views: number;
  readonly head: Linear;

  constructor(
    readonly backbone: FeatureModule,
    readonly numClasses: number,
    rng: Rng,
    opts: SupervisedClassifierOptions = {},
  ) {
    this.head = new Linear(backbone.outputDim, numClasses, rng);
    this.views = opts.augmented ? 1 : 0;
  }

  logits(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => this.head.forward(this.backbone.forward(x)) as tf.Tensor2D);
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const labels = batch.labels;
    if (!labels) throw new EvaluationError("supervised training needs labels, but the batch has none");
    return ctx.minimize(() =>
      tf.tidy(() => {
        const logits = this.logits(this.views > 0 ? (batch.views[0] as tf.Tensor) : batch.inputs);
        const acc = tf.mean(
          tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(labels, "int32")), "float32"),
        ) as tf.Scalar;
        return { loss: softmaxCrossEntropy(logits, labels), metrics: { train_acc: acc } };
      }),
    );
  }

  /** Predicted classes of a split, in eval mode (the previous mode is restored). */
  async predict(
    split: DatasetSplit,
    input: InputSpec,
    batchSize = 256,
  ): Promise<{ predictions: Int32Array; labels: Int32Array }> {
    const wasTraining = this.backbone.training;
    this.backbone.eval();
    this.head.eval();
    const predictions = new Int32Array(split.size);
    const labels = new Int32Array(split.size).fill(-1);
    let row = 0;
    try {
      for await (const b of splitBatches(split, {
        batchSize,
        shuffle: false,
        rng: new Rng(0),
        dropLast: false,
        input,
      })) {
        const p = tf.tidy(() => tf.argMax(this.logits(b.inputs), 1));
        predictions.set(p.dataSync(), row);
        if (b.labels) labels.set(b.labels.dataSync(), row);
        p.dispose();
        b.inputs.dispose();
        b.labels?.dispose();
        row += b.indices.length;
      }
    } finally {
      this.backbone.train(wasTraining);
      this.head.train(wasTraining);
    }
    return { predictions, labels };
  }

  encoder(): FeatureModule {
    return this.backbone;
  }

  modules(): Record<string, Module> {
    return { encoder: this.backbone, head: this.head };
  }

  trainableVariables(): tf.Variable[] {
    return [...this.backbone.trainableVariables(), ...this.head.trainableVariables()];
  }

  dispose(): void {
    this.backbone.dispose();
    this.head.dispose();
  }
}
