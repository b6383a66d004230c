/**
 * The data loader: batches of a split, in a seeded order that differs per epoch but is the same for
 * the same (seed, epoch), so a resumed run sees exactly the batches it would have seen.
 *
 * Prefetch: while the caller works on batch k, the samples of the next batches (1 by default, or
 * the split's `prefetchBatches`, or `prefetch: n`) are read and packed into typed arrays. A split
 * that reads whole batches (`getBatch`, e.g. image-folder's worker pool) is asked per batch. The tensor is created only when the batch is handed out, so stopping early (break,
 * an exception) leaves no tensor behind; the caller owns (and disposes) the tensors it receives.
 */
import type { DatasetSplit, InputSpec } from "../plugin/types.js";
import { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { DatasetError, isBatchSplit, sampleLength } from "./split.js";

export interface DataLoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (default true); false keeps index order. */
  shuffle?: boolean;
  /** Seed of the shuffles (default 0). */
  seed?: number;
  /** Alternatively, an rng to draw the seed from (one draw, at construction). */
  rng?: Rng;
  /** Leave out the last, smaller batch (default false). */
  dropLast?: boolean;
  /**
   * Batches read ahead while the caller works: true (default) is the split's `prefetchBatches`
   * or 1, a number says how many, false reads each batch only when asked.
   */
  prefetch?: boolean | number;
  /** Shape of the samples, when the split does not carry an `input` (ours all do). */
  input?: InputSpec;
  /**
   * Also hand out `source`: the batch at the split's stored size when that is larger than `input`
   * (image-folder's `storeSize`), for augmentations to crop from. The caller disposes it.
   */
  keepSource?: boolean;
}

export interface Batch {
  /** Images [B,H,W,C] float32, or token ids [B,T] int32. */
  inputs: tf.Tensor;
  /** Labels when every sample of the batch has one (evaluation only). */
  labels?: tf.Tensor1D;
  /** The batch at the split's larger stored size [B,H',W',C] (only with `keepSource`). */
  source?: tf.Tensor4D;
  /** Split indices of the samples, in batch order. */
  indices: number[];
  epoch: number;
  /** Position of the batch in its epoch. */
  batch: number;
}

interface RawBatch {
  /** Floats or token ids; or uint8 image bytes, scaled to [0,1] on the backend. */
  data: Float32Array | Int32Array | Uint8Array;
  labels?: Int32Array;
  indices: number[];
  batch: number;
  /** Sample shape when it is not the input's (a larger stored size). */
  shape?: readonly [number, number, number];
}

/** Mixes the epoch into the seed (a multiplicative hash), so each epoch has its own order. */
export function epochSeed(seed: number, epoch: number): number {
  return (Math.imul((seed >>> 0) ^ 0x6a09e667, 0x9e3779b1) + Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
}

export class DataLoader implements AsyncIterable<Batch> {
  readonly batchSize: number;
  readonly input: InputSpec;
  readonly numBatches: number;
  /** The epoch the next `for await` iterates; it advances by one per iteration. */
  epoch = 0;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly prefetch: number;
  private readonly keepSource: boolean;
  private startAt = 0;

  constructor(
    readonly split: DatasetSplit,
    opts: DataLoaderOptions,
  ) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize <= 0) {
      throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    }
    const input = opts.input ?? (split as { input?: InputSpec }).input;
    if (!input)
      throw new DatasetError("DataLoader: the split has no `input` spec; pass `input` in the loader options");
    this.input = input;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.keepSource = opts.keepSource ?? false;
    const ahead = opts.prefetch ?? true;
    this.prefetch =
      ahead === false
        ? 0
        : ahead === true
          ? Math.max(1, (isBatchSplit(split) ? split.prefetchBatches : undefined) ?? 1)
          : Math.max(0, Math.floor(ahead));
    this.seed = opts.rng ? opts.rng.nextUint32() : (opts.seed ?? 0);
    this.numBatches = this.dropLast
      ? Math.floor(split.size / this.batchSize)
      : Math.ceil(split.size / this.batchSize);
  }

  /** The order in which epoch `epoch` visits the split's indices. */
  order(epoch: number): number[] {
    const n = this.split.size;
    if (!this.shuffle) return Array.from({ length: n }, (_, i) => i);
    const rng = new Rng(epochSeed(this.seed, epoch));
    // a split with an order of its own (a streamed cache reads chunk by chunk) gets to choose it
    if (isBatchSplit(this.split) && this.split.epochOrder) return this.split.epochOrder(rng, n);
    return rng.shuffle(Array.from({ length: n }, (_, i) => i));
  }

  /** Makes the next iteration (only) start at batch `n` of its epoch, to resume mid-epoch. */
  skip(n: number): this {
    if (!Number.isInteger(n) || n < 0)
      throw new RangeError(`DataLoader.skip: expected a batch count >= 0, got ${n}`);
    this.startAt = n;
    return this;
  }

  /** Sets the epoch the next iteration runs. */
  setEpoch(epoch: number): this {
    this.epoch = epoch;
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    const epoch = this.epoch++;
    const start = this.startAt;
    this.startAt = 0;
    return this.iterate(epoch, start);
  }

  /** Batches `startBatch`.. of epoch `epoch`. */
  async *iterate(epoch: number, startBatch = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const fetch = (k: number): Promise<RawBatch> => {
      const p = this.assemble(order.slice(k * this.batchSize, (k + 1) * this.batchSize), k);
      p.catch(() => undefined); // a prefetch nobody awaits (early stop) must not be an unhandled rejection
      return p;
    };
    // batches k+1 .. k+prefetch are read while batch k is with the caller
    const ahead = new Map<number, Promise<RawBatch>>();
    for (let k = startBatch; k < this.numBatches; k++) {
      const raw = await (ahead.get(k) ?? fetch(k));
      ahead.delete(k);
      for (let j = k + 1; j <= k + this.prefetch && j < this.numBatches; j++)
        if (!ahead.has(j)) ahead.set(j, fetch(j));
      yield this.toBatch(raw, epoch);
    }
  }

  private async assemble(indices: number[], batch: number): Promise<RawBatch> {
    if (isBatchSplit(this.split) && this.input.kind === "image") {
      const got = await this.split.getBatch(indices);
      const data = got.bytes ?? got.data;
      const shape = got.shape;
      const want = indices.length * (shape ? shape[0] * shape[1] * shape[2] : sampleLength(this.input));
      if (data.length !== want || (shape && shape[2] !== this.input.channels)) {
        throw new DatasetError(
          `DataLoader: batch ${batch} has ${data.length} values, expected ${want} for ${JSON.stringify(shape ?? this.input)}`,
        );
      }
      return {
        data,
        indices,
        batch,
        ...(got.labels ? { labels: got.labels } : {}),
        ...(shape ? { shape } : {}),
      };
    }
    const samples = await Promise.all(indices.map((i) => this.split.get(i)));
    const len = sampleLength(this.input);
    const text = this.input.kind === "text";
    const data = text ? new Int32Array(indices.length * len) : new Float32Array(indices.length * len);
    const labels = samples.every((s) => s.label !== undefined) ? new Int32Array(indices.length) : undefined;
    samples.forEach((s, i) => {
      if (s.data.length !== len) {
        throw new DatasetError(
          `DataLoader: sample ${indices[i]} has ${s.data.length} values, expected ${len} for ${JSON.stringify(this.input)}`,
        );
      }
      data.set(s.data, i * len);
      if (labels) labels[i] = s.label!;
    });
    return { data, indices, batch, ...(labels ? { labels } : {}) };
  }

  private toBatch(raw: RawBatch, epoch: number): Batch {
    const b = raw.indices.length;
    const input = this.input;
    const stored = raw.shape;
    const larger =
      input.kind === "image" &&
      stored !== undefined &&
      (stored[0] !== input.height || stored[1] !== input.width);
    const shape =
      larger && stored
        ? [b, ...stored]
        : input.kind === "image"
          ? [b, input.height, input.width, input.channels]
          : [b, input.seqLen];
    const data = raw.data;
    const made =
      data instanceof Uint8Array
        ? // bytes -> float32 (a typed-array conversion, no JS loop), then / 255 on the backend
          tf.tidy(() => tf.div(tf.tensor(new Float32Array(data), shape, "float32"), 255))
        : tf.tensor(data, shape, input.kind === "image" ? "float32" : "int32");
    let inputs = made;
    let source: tf.Tensor4D | undefined;
    if (larger && input.kind === "image") {
      // the batch at the input size for the model; the stored one kept only when asked for
      inputs = tf.tidy(() =>
        tf.image.resizeBilinear(made as tf.Tensor4D, [input.height, input.width], false, true),
      );
      if (this.keepSource) source = made as tf.Tensor4D;
      else made.dispose();
    }
    const labels = raw.labels ? tf.tensor1d(raw.labels, "int32") : undefined;
    return {
      inputs,
      indices: raw.indices,
      epoch,
      batch: raw.batch,
      ...(labels ? { labels } : {}),
      ...(source ? { source } : {}),
    };
  }
}
