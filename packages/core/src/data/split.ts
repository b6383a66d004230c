/**
 * Split helpers shared by the datasets. Our splits also carry their `input` spec, so a DataLoader
 * can shape batches without being told.
 */
import type { DatasetSplit, InputSpec, Sample } from "../plugin/types.js";
import type { Rng } from "../rng.js";

/** A dataset problem, said for people: which dataset, which file, what is wrong. */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/** A split that knows the shape of its samples. */
export interface ShapedSplit extends DatasetSplit {
  readonly input: InputSpec;
}

/** Number of values one sample of `input` holds. */
export function sampleLength(input: InputSpec): number {
  return input.kind === "image" ? input.height * input.width * input.channels : input.seqLen;
}

/** Throws a RangeError naming the split when the index is out of range. */
export function checkIndex(what: string, index: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= size) {
    throw new RangeError(`${what}: index ${index} is out of range [0, ${size})`);
  }
}

/**
 * A split over images held in one Float32Array ([N, H, W, C] flattened) with optional labels,
 * showing the rows listed in `order` (so splits and limits are views, not copies).
 */
export class ArraySplit implements ShapedSplit {
  readonly size: number;
  private readonly length: number;

  constructor(
    private readonly what: string,
    readonly input: InputSpec,
    private readonly values: Float32Array,
    private readonly labels: ArrayLike<number> | undefined,
    private readonly order: ArrayLike<number>,
  ) {
    this.size = order.length;
    this.length = sampleLength(input);
  }

  /** The dataset row shown at split index i. */
  sourceIndex(i: number): number {
    checkIndex(this.what, i, this.size);
    return this.order[i]!;
  }

  async get(index: number): Promise<Sample> {
    return this.getSync(index);
  }

  /** Synchronous access, for in-memory data. The returned data is a copy. */
  getSync(index: number): Sample {
    const row = this.sourceIndex(index);
    const data = this.values.slice(row * this.length, (row + 1) * this.length);
    return this.labels ? { data, label: this.labels[row]! } : { data };
  }
}

/**
 * A batch's samples packed [B, ...sample] with labels when every sample has one: as floats in
 * [0, 1] (`data`), or as uint8 image bytes (`bytes`) that the DataLoader turns into `value / 255`
 * float32 on the backend (one conversion of the whole batch, no float loop on this thread).
 */
export type BatchData = (
  | { data: Float32Array; bytes?: undefined }
  | { bytes: Uint8Array; data?: undefined }
) & {
  labels?: Int32Array;
  /**
   * Shape [H, W, C] of each sample when it is not the split's `input` (image-folder's `storeSize`:
   * samples kept larger so random crops keep their detail). The DataLoader resizes the batch to the
   * input for `inputs` and, when asked (`keepSource`), hands the batch as it is out as `source`.
   */
  shape?: readonly [number, number, number];
};

/**
 * A split that reads a whole batch at once (packed, no per-sample objects) and says how many
 * batches a loader should keep in flight. The DataLoader uses both when a split has them.
 */
export interface BatchSplit extends DatasetSplit {
  getBatch(indices: readonly number[]): Promise<BatchData>;
  /** Batches to read ahead of the one being trained on. */
  readonly prefetchBatches?: number;
  /**
   * A shuffled order over [0, count) that this split reads fast (e.g. chunk by chunk), drawn from
   * `rng` only; the DataLoader uses it instead of a plain shuffle when the split has one.
   */
  epochOrder?(rng: Rng, count: number): number[];
}

export function isBatchSplit(split: DatasetSplit): split is BatchSplit {
  return typeof (split as Partial<BatchSplit>).getBatch === "function";
}

/** uint8 -> float in [0,1], exactly `v / 255` as a float32 (a table: one load per value). */
export const U8_TO_UNIT: Float32Array = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** Writes `bytes / 255` into `out` at `offset`. */
export function unitFloats(bytes: Uint8Array, out: Float32Array, offset = 0): void {
  for (let k = 0; k < bytes.length; k++) out[offset + k] = U8_TO_UNIT[bytes[k]!]!;
}
