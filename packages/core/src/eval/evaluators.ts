/**
 * The core's evaluators, registered by name: "knn", "linear-probe", "fine-tune", "few-label".
 * Each takes the run's encoder and a labelled dataset with a test split.
 */
import { z } from "zod";
import { defineEvaluator } from "../plugin/define-plugin.js";
import type { EvaluationResult, EvaluatorContext } from "../plugin/types.js";
import { Rng } from "../rng.js";
import {
  extractFeatures,
  type Features,
  labelledSplits,
  limitIndices,
  requireLabels,
  subsetSplit,
} from "./features.js";
import { fewLabel } from "./few-label.js";
import { knnAccuracy } from "./knn.js";
import { linearProbe } from "./linear-probe.js";

const limits = {
  /** Use at most this many training / test samples (a seeded random subset). */
  maxTrain: z.number().int().positive().optional(),
  maxTest: z.number().int().positive().optional(),
};

async function trainTestFeatures(ctx: EvaluatorContext, name: string, maxTrain?: number, maxTest?: number) {
  const { train, test, numClasses } = labelledSplits(ctx.dataset, name);
  const input = ctx.dataset.input;
  const seedRng = new Rng(ctx.rng.seed());
  const tr = await extractFeatures(
    ctx.encoder,
    subsetSplit(train, limitIndices(train.size, maxTrain, seedRng)),
    { input, batchSize: ctx.batchSize },
  );
  let te: Features;
  try {
    te = await extractFeatures(ctx.encoder, subsetSplit(test, limitIndices(test.size, maxTest, seedRng)), {
      input,
      batchSize: ctx.batchSize,
    });
  } catch (err) {
    tr.features.dispose();
    throw err;
  }
  const dispose = () => {
    tr.features.dispose();
    te.features.dispose();
  };
  try {
    requireLabels(tr.labels, `evaluator "${name}", train split of "${ctx.dataset.name}"`);
    requireLabels(te.labels, `evaluator "${name}", test split of "${ctx.dataset.name}"`);
  } catch (err) {
    dispose();
    throw err;
  }
  return { tr, te, numClasses, dispose };
}

export const knnEvaluator = defineEvaluator({
  name: "knn",
  description:
    "Weighted kNN on L2-normalised features (cosine, exp(s/t) votes; Wu et al. 2018), top-1 accuracy",
  options: z.object({
    k: z.number().int().positive().default(200),
    temperature: z.number().positive().default(0.1),
    ...limits,
  }),
  async evaluate(opts, ctx): Promise<EvaluationResult[]> {
    const { tr, te, numClasses, dispose } = await trainTestFeatures(ctx, "knn", opts.maxTrain, opts.maxTest);
    try {
      const value = knnAccuracy({
        trainFeatures: tr.features,
        trainLabels: tr.labels,
        testFeatures: te.features,
        testLabels: te.labels,
        numClasses,
        k: opts.k,
        temperature: opts.temperature,
      });
      return [
        { protocol: "knn", metric: "top1", value, details: { k: opts.k, temperature: opts.temperature } },
      ];
    } finally {
      dispose();
    }
  },
});

export const linearProbeEvaluator = defineEvaluator({
  name: "linear-probe",
  description:
    "Softmax regression on frozen, standardised features (full-batch Adam, L2), test top-1 accuracy",
  options: z.object({
    steps: z.number().int().positive().default(300),
    lr: z.number().positive().default(0.05),
    weightDecay: z
      .number()
      .min(0)
      .optional()
      .describe("L2 on the weights (default 1 / n for n training samples: scikit-learn's C = 1)"),
    ...limits,
  }),
  async evaluate(opts, ctx): Promise<EvaluationResult[]> {
    const { tr, te, numClasses, dispose } = await trainTestFeatures(
      ctx,
      "linear-probe",
      opts.maxTrain,
      opts.maxTest,
    );
    try {
      const r = linearProbe({
        trainFeatures: tr.features,
        trainLabels: tr.labels,
        testFeatures: te.features,
        testLabels: te.labels,
        numClasses,
        steps: opts.steps,
        lr: opts.lr,
        ...(opts.weightDecay !== undefined ? { weightDecay: opts.weightDecay } : {}),
      });
      return [
        {
          protocol: "linear",
          metric: "top1",
          value: r.accuracy,
          details: { train_top1: r.trainAccuracy, final_loss: r.finalLoss },
        },
      ];
    } finally {
      dispose();
    }
  },
});

export const fineTuneEvaluator = defineEvaluator({
  name: "fine-tune",
  description: "Encoder + linear head trained end to end on N labels per class (mean and std over seeds)",
  options: z.object({
    labelsPerClass: z.number().int().positive().default(10),
    seeds: z.array(z.number().int()).min(1).default([0]),
    epochs: z.number().int().positive().default(20),
    lr: z.number().positive().default(1e-3),
    maxTest: z.number().int().positive().optional(),
  }),
  async evaluate(opts, ctx): Promise<EvaluationResult[]> {
    return fewLabel({
      encoder: ctx.encoder,
      dataset: ctx.dataset,
      labelsPerClass: [opts.labelsPerClass],
      seeds: opts.seeds,
      protocol: "finetune",
      batchSize: ctx.batchSize,
      fineTuneEpochs: opts.epochs,
      fineTuneLr: opts.lr,
      maxTest: opts.maxTest,
    });
  },
});

export const fewLabelEvaluator = defineEvaluator({
  name: "few-label",
  description:
    "N labels per class over several seeds (kNN, linear probe or fine-tuning): mean and std of test top-1",
  options: z.object({
    labelsPerClass: z.array(z.number().int().positive()).min(1).default([1, 10, 100]),
    seeds: z.array(z.number().int()).min(1).default([0, 1, 2]),
    protocol: z.enum(["linear", "knn", "finetune"]).default("linear"),
    k: z.number().int().positive().default(200),
    temperature: z.number().positive().default(0.1),
    probeSteps: z.number().int().positive().default(300),
    maxTest: z.number().int().positive().optional(),
  }),
  async evaluate(opts, ctx): Promise<EvaluationResult[]> {
    return fewLabel({
      encoder: ctx.encoder,
      dataset: ctx.dataset,
      labelsPerClass: opts.labelsPerClass,
      seeds: opts.seeds,
      protocol: opts.protocol,
      batchSize: ctx.batchSize,
      k: opts.k,
      temperature: opts.temperature,
      probeSteps: opts.probeSteps,
      maxTest: opts.maxTest,
    });
  },
});
