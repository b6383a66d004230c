/**
 * The supervised sanity run: core's `convnet` backbone + a linear head trained with labels on the
 * MNIST digits of the `mnist` package (8,000 train / 2,000 test), through the same Trainer,
 * optimizer and loader as self-supervised runs. Far below ~97% test accuracy means something in
 * the stack (kernels, gradients, optimizer, data) is broken; it also gives a training throughput
 * figure per backend.
 *
 * Defaults (width 32, `pool: "flatten"`, batch 32, AdamW 5e-3 cosine, 3 epochs, no augmentation):
 * 97.5% in ~45 s on 2 shared cores (wasm). The convnet's global average pooling (the SSL default)
 * is what limits a supervised classifier on digits: with it, 10 epochs of width 16 gave 96.8%;
 * flattening the 4x4 last map gave 96.4% after 2 epochs, 97.4% after 5 (width 16) and 97.5% after 3
 * (width 32).
 */
import {
  accuracy,
  buildPipeline,
  builtinAugmentations,
  convNetBackbone,
  DIGITS_PIPELINE,
  makeViews,
  mnist,
  progressLogger,
  Rng,
  SupervisedClassifier,
  subsetSplit,
  Trainer,
  tf,
} from "@selfsup/core";

export interface SupervisedBenchOptions {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** AdamW's decoupled weight decay (default 5e-4). */
  weightDecay?: number;
  /** Convnet width (channels of the first block; default 32). */
  width?: number;
  /** Convnet pooling (default "flatten": a classifier on digits learns much faster keeping positions). */
  pool?: "avg" | "flatten";
  /** Use only the first N training / test digits (the split is class-interleaved, so prefixes stay balanced). */
  trainLimit?: number;
  testLimit?: number;
  /** Train on augmented digits (DIGITS_PIPELINE: gentle crop, affine, jitter, noise; default false). */
  augment?: boolean;
  /** Stop after this many steps (default: all epochs). */
  maxSteps?: number;
  seed?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  progressEvery?: number;
}

export interface SupervisedBenchResult {
  backend: string;
  trainSamples: number;
  testSamples: number;
  epochs: number;
  augment: boolean;
  steps: number;
  /** Test top-1 accuracy in [0, 1]. */
  accuracy: number;
  /** Training images per second (forward + backward + update, data loading included). */
  imagesPerSec: number;
  trainSeconds: number;
  evalSeconds: number;
  finalLoss: number;
}

export async function runSupervisedBench(opts: SupervisedBenchOptions = {}): Promise<SupervisedBenchResult> {
  const data = await mnist.load({});
  const test = data.test;
  if (!test) throw new Error("the mnist dataset has no test split");
  const trainSplit = opts.trainLimit
    ? subsetSplit(data.train, range(Math.min(opts.trainLimit, data.train.size)))
    : data.train;
  const testSplit = opts.testLimit ? subsetSplit(test, range(Math.min(opts.testLimit, test.size))) : test;
  const seed = opts.seed ?? 0;
  const rng = new Rng(seed);
  const encoder = convNetBackbone.build(
    convNetBackbone.options.parse({ width: opts.width ?? 32, pool: opts.pool ?? "flatten" }),
    data.input,
    rng,
  );
  const augment = opts.augment ?? false;
  const model = new SupervisedClassifier(encoder, 10, rng, { augmented: augment });
  const pipeline = buildPipeline(builtinAugmentations, DIGITS_PIPELINE);
  const epochs = opts.epochs ?? 3;
  const batchSize = opts.batchSize ?? 32;
  try {
    const trainer = new Trainer({
      method: model,
      dataset: { ...data, train: trainSplit, test: testSplit },
      config: {
        epochs,
        maxSteps: opts.maxSteps,
        batchSize,
        seed,
        optimizer: { name: "adamw", lr: opts.lr ?? 5e-3, weightDecay: opts.weightDecay ?? 5e-4 },
        schedule: { name: "cosine", warmupSteps: 20 },
      },
      augment: (x, n, r) => makeViews(pipeline, x, n, r),
      callbacks: opts.log ? [progressLogger({ every: opts.progressEvery ?? 25, write: opts.log })] : [],
    });
    const started = performance.now();
    const fit = await trainer.fit();
    const trainSeconds = (performance.now() - started) / 1000;
    trainer.dispose();
    const evalStart = performance.now();
    const { predictions, labels } = await model.predict(testSplit, data.input, 250);
    const evalSeconds = (performance.now() - evalStart) / 1000;
    return {
      backend: tf.getBackend(),
      trainSamples: trainSplit.size,
      testSamples: testSplit.size,
      epochs,
      augment,
      steps: fit.step,
      accuracy: accuracy(predictions, labels),
      imagesPerSec: (fit.step * batchSize) / trainSeconds,
      trainSeconds,
      evalSeconds,
      finalLoss: fit.losses.at(-1) ?? Number.NaN,
    };
  } finally {
    model.dispose();
  }
}

export function formatSupervisedResult(r: SupervisedBenchResult): string {
  return [
    `supervised convnet on mnist digits (${r.backend}): ${r.trainSamples} train / ${r.testSamples} test, ${r.epochs} epochs${r.augment ? " (augmented)" : ""}, ${r.steps} steps`,
    `  test accuracy ${(r.accuracy * 100).toFixed(2)}%   ${Math.round(r.imagesPerSec)} images/s   train ${r.trainSeconds.toFixed(1)} s   eval ${r.evalSeconds.toFixed(1)} s   final loss ${r.finalLoss.toFixed(4)}`,
  ].join("\n");
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
