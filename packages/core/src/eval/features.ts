/**
 * Feature extraction for evaluation: the encoder in eval mode (BatchNorm running statistics,
 * no dropout), batched, without gradients; the encoder's previous mode is restored afterwards.
 */
import type { FeatureModule } from "../nn/module.js";
import type { Dataset, DatasetSplit, InputSpec, Sample } from "../plugin/types.js";
import { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { splitBatches } from "../train/loader.js";

export interface Features {
  /** [N, D] float32. */
  features: tf.Tensor2D;
  /** Label of each row (-1 where the sample has none). */
  labels: Int32Array;
}

export class EvaluationError extends Error {
  override name = "EvaluationError";
}

/** A view of `split` showing only the rows at `indices`, in that order. */
export function subsetSplit(split: DatasetSplit, indices: readonly number[]): DatasetSplit {
  return {
    size: indices.length,
    get: (i: number): Promise<Sample> => {
      const row = indices[i];
      if (row === undefined) throw new RangeError(`subset index ${i} is out of range [0, ${indices.length})`);
      return split.get(row);
    },
  };
}

/** Up to `max` row indices of a split of `size`: all of them in order, or a seeded random subset. */
export function limitIndices(size: number, max: number | undefined, rng: Rng): number[] {
  const all = Array.from({ length: size }, (_, i) => i);
  if (max === undefined || max >= size) return all;
  return rng
    .shuffle(all)
    .slice(0, max)
    .sort((a, b) => a - b);
}

export interface ExtractOptions {
  input: InputSpec;
  batchSize?: number;
}

/** Encodes every sample of `split` with `encoder` (eval mode); returns features and labels. */
export async function extractFeatures(
  encoder: FeatureModule,
  split: DatasetSplit,
  opts: ExtractOptions,
): Promise<Features> {
  const wasTraining = encoder.training;
  encoder.eval();
  const parts: tf.Tensor2D[] = [];
  const labels = new Int32Array(split.size).fill(-1);
  let row = 0;
  try {
    for await (const b of splitBatches(split, {
      batchSize: opts.batchSize ?? 256,
      shuffle: false,
      rng: new Rng(0),
      dropLast: false,
      input: opts.input,
    })) {
      const f = tf.tidy(() => tf.reshape(encoder.forward(b.inputs), [b.indices.length, -1]) as tf.Tensor2D);
      b.inputs.dispose();
      if (b.labels) labels.set(b.labels.dataSync(), row);
      b.labels?.dispose();
      parts.push(f);
      row += b.indices.length;
    }
    if (parts.length === 0) throw new EvaluationError("cannot extract features of an empty split");
    const features = parts.length === 1 ? (parts[0] as tf.Tensor2D) : tf.concat(parts, 0);
    if (parts.length > 1) for (const p of parts) p.dispose();
    return { features, labels };
  } catch (err) {
    for (const p of parts) p.dispose();
    throw err;
  } finally {
    encoder.train(wasTraining);
  }
}

/** The labelled train and test splits an evaluator needs, or an error saying what is missing. */
export function labelledSplits(
  dataset: Dataset,
  evaluator: string,
): { train: DatasetSplit; test: DatasetSplit; numClasses: number } {
  if (!dataset.test) {
    throw new EvaluationError(
      `evaluator "${evaluator}" needs a dataset with a test split; "${dataset.name}" has only a training split`,
    );
  }
  if (!dataset.numClasses || dataset.numClasses < 2) {
    throw new EvaluationError(
      `evaluator "${evaluator}" needs a labelled dataset; "${dataset.name}" declares no numClasses`,
    );
  }
  return { train: dataset.train, test: dataset.test, numClasses: dataset.numClasses };
}

/** Throws when some labels are missing (-1). */
export function requireLabels(labels: Int32Array, what: string): void {
  const missing = labels.indexOf(-1);
  if (missing >= 0)
    throw new EvaluationError(`${what}: sample ${missing} has no label; evaluation needs labelled samples`);
}

export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  if (predictions.length !== labels.length)
    throw new EvaluationError(`${predictions.length} predictions for ${labels.length} labels`);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) correct++;
  return labels.length === 0 ? 0 : correct / labels.length;
}
