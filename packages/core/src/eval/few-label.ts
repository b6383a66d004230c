/**
 * The few-label protocol: for each N in `labelsPerClass` and each seed, sample N labelled
 * training samples per class (seeded, class-balanced), fit the protocol (kNN, linear probe or
 * fine-tuning) on them alone, and measure top-1 accuracy on the whole test split. Reports the mean
 * and the sample standard deviation (n - 1) over seeds, as semi-supervised papers do
 * (e.g. SimCLR's 1% / 10% label tables, https://arxiv.org/abs/2002.05709).
 */
import type { FeatureModule } from "../nn/module.js";
import type { Dataset, EvaluationResult } from "../plugin/types.js";
import { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { extractFeatures, labelledSplits, limitIndices, requireLabels, subsetSplit } from "./features.js";
import { fineTune } from "./fine-tune.js";
import { knnAccuracy } from "./knn.js";
import { linearProbe } from "./linear-probe.js";

export type FewLabelProtocol = "linear" | "knn" | "finetune";

/** N indices per class (all of a class when it has fewer), seeded; sorted ascending. */
export function sampleLabelsPerClass(labels: ArrayLike<number>, perClass: number, rng: Rng): number[] {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    if (y < 0) continue;
    if (!byClass.has(y)) byClass.set(y, []);
    byClass.get(y)?.push(i);
  }
  const out: number[] = [];
  for (const y of [...byClass.keys()].sort((a, b) => a - b))
    out.push(...rng.shuffle([...(byClass.get(y) as number[])]).slice(0, perClass));
  return out.sort((a, b) => a - b);
}

export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std };
}

export interface FewLabelOptions {
  encoder: FeatureModule;
  dataset: Dataset;
  labelsPerClass: number[];
  seeds: number[];
  protocol: FewLabelProtocol;
  batchSize?: number;
  /** kNN neighbours and temperature (defaults 200 and 0.1; k is capped at the subset size). */
  k?: number;
  temperature?: number;
  /** Linear probe: full-batch steps, learning rate, L2. */
  probeSteps?: number;
  probeLr?: number;
  probeWeightDecay?: number;
  /** Fine-tuning: epochs, learning rate. */
  fineTuneEpochs?: number;
  fineTuneLr?: number;
  /** Evaluate on at most this many test samples (a seeded subset; default: all). */
  maxTest?: number;
}

/** Mean and std of top-1 accuracy over seeds, one result per labels-per-class value. */
export async function fewLabel(opts: FewLabelOptions): Promise<EvaluationResult[]> {
  const { train, test, numClasses } = labelledSplits(opts.dataset, "few-label");
  const input = opts.dataset.input;
  const testIdx = limitIndices(test.size, opts.maxTest, new Rng(0));
  const testSplit = subsetSplit(test, testIdx);
  const trainLabels = await labelsOf(train);
  requireLabels(trainLabels, `dataset "${opts.dataset.name}" train split`);

  let features: { train: tf.Tensor2D; test: tf.Tensor2D; testLabels: Int32Array } | undefined;
  if (opts.protocol !== "finetune") {
    const tr = await extractFeatures(opts.encoder, train, { input, batchSize: opts.batchSize });
    const te = await extractFeatures(opts.encoder, testSplit, { input, batchSize: opts.batchSize });
    requireLabels(te.labels, `dataset "${opts.dataset.name}" test split`);
    features = { train: tr.features, test: te.features, testLabels: te.labels };
  }
  try {
    const results: EvaluationResult[] = [];
    for (const n of opts.labelsPerClass) {
      const accs: number[] = [];
      for (const seed of opts.seeds) {
        const idx = sampleLabelsPerClass(trainLabels, n, new Rng(seed));
        const subsetLabels = Int32Array.from(idx, (i) => trainLabels[i] as number);
        if (features) {
          const f = features;
          const sub = tf.tidy(() => tf.gather(f.train, tf.tensor1d(idx, "int32")) as tf.Tensor2D);
          try {
            accs.push(
              opts.protocol === "knn"
                ? knnAccuracy({
                    trainFeatures: sub,
                    trainLabels: subsetLabels,
                    testFeatures: f.test,
                    testLabels: f.testLabels,
                    numClasses,
                    k: opts.k,
                    temperature: opts.temperature,
                  })
                : linearProbe({
                    trainFeatures: sub,
                    trainLabels: subsetLabels,
                    testFeatures: f.test,
                    testLabels: f.testLabels,
                    numClasses,
                    steps: opts.probeSteps,
                    lr: opts.probeLr,
                    weightDecay: opts.probeWeightDecay,
                  }).accuracy,
            );
          } finally {
            sub.dispose();
          }
        } else {
          const r = await fineTune({
            encoder: opts.encoder,
            train: subsetSplit(train, idx),
            test: testSplit,
            input,
            numClasses,
            epochs: opts.fineTuneEpochs,
            lr: opts.fineTuneLr,
            batchSize: opts.batchSize,
            seed,
          });
          accs.push(r.accuracy);
        }
      }
      const { mean, std } = meanStd(accs);
      results.push({
        protocol: opts.protocol,
        metric: "top1",
        value: mean,
        std,
        labelsPerClass: n,
        perSeed: opts.seeds.map((seed, i) => ({ seed, value: accs[i] as number })),
      });
    }
    return results;
  } finally {
    features?.train.dispose();
    features?.test.dispose();
  }
}

/** Labels of a split without building tensors. */
export async function labelsOf(split: {
  size: number;
  get(i: number): Promise<{ label?: number }>;
}): Promise<Int32Array> {
  const out = new Int32Array(split.size);
  for (let i = 0; i < split.size; i++) out[i] = (await split.get(i)).label ?? -1;
  return out;
}
