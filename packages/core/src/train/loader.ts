/**
 * How the trainer gets batches: a `LoaderFactory` makes one epoch's batch iterator. The default,
 * `dataLoader`, is core's prefetching DataLoader; `splitBatches` is a plain in-order reader used
 * for evaluation. `TrainerOptions.loader` swaps in any other loader of the same shape.
 */
import { DataLoader } from "../data/loader.js";
import type { DatasetSplit, InputSpec } from "../plugin/types.js";
import type { Rng } from "../rng.js";
import { tf } from "../tf.js";

export interface LoadedBatch {
  inputs: tf.Tensor;
  labels?: tf.Tensor1D;
  indices: number[];
  /** The batch at the dataset's larger stored size (asked for with `keepSource`), for the views. */
  source?: tf.Tensor;
}

export interface LoaderOptions {
  batchSize: number;
  shuffle: boolean;
  /** Shuffles the order; the loader may consume it only while it iterates. */
  rng: Rng;
  dropLast: boolean;
  input: InputSpec;
  /** Start at this batch of the epoch (a resumed run skips what it already trained on). */
  skip?: number;
  /** Also yield `source` when the split stores samples larger than `input` (image-folder's storeSize). */
  keepSource?: boolean;
}

export type LoaderFactory = (split: DatasetSplit, opts: LoaderOptions) => AsyncIterable<LoadedBatch>;

/** Number of batches one pass over `size` samples yields. */
export function batchCount(size: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}

/** A plain loader: seeded permutation, samples fetched with `split.get`, stacked into one tensor. */
export async function* splitBatches(split: DatasetSplit, opts: LoaderOptions): AsyncGenerator<LoadedBatch> {
  const order = Array.from({ length: split.size }, (_, i) => i);
  if (opts.shuffle) opts.rng.shuffle(order);
  const n = batchCount(split.size, opts.batchSize, opts.dropLast);
  const shape =
    opts.input.kind === "image"
      ? [opts.input.height, opts.input.width, opts.input.channels]
      : [opts.input.seqLen];
  const per = shape.reduce((a, b) => a * b, 1);
  for (let b = opts.skip ?? 0; b < n; b++) {
    const indices = order.slice(b * opts.batchSize, (b + 1) * opts.batchSize);
    const samples = await Promise.all(indices.map((i) => split.get(i)));
    const isInt = opts.input.kind === "text";
    const data = isInt ? new Int32Array(indices.length * per) : new Float32Array(indices.length * per);
    samples.forEach((s, i) => {
      if (s.data.length !== per)
        throw new Error(
          `sample ${indices[i]} has ${s.data.length} values; the dataset's input spec needs ${per}`,
        );
      data.set(s.data, i * per);
    });
    const inputs = tf.tensor(data, [indices.length, ...shape], isInt ? "int32" : "float32");
    const hasLabels = samples.every((s) => s.label !== undefined);
    const labels = hasLabels
      ? tf.tensor1d(
          samples.map((s) => s.label as number),
          "int32",
        )
      : undefined;
    yield { inputs, labels, indices };
  }
}

/** Core's DataLoader (seeded order drawn from `rng`, prefetch of the next batch) as a LoaderFactory. */
export const dataLoader: LoaderFactory = (split, opts) => {
  const loader = new DataLoader(split, {
    batchSize: opts.batchSize,
    shuffle: opts.shuffle,
    rng: opts.rng,
    dropLast: opts.dropLast,
    input: opts.input,
    ...(opts.keepSource ? { keepSource: true } : {}),
  });
  return opts.skip ? loader.skip(opts.skip) : loader;
};
