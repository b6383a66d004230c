/**
 * MoCo's dictionary: a FIFO queue of the last K keys, kept as variables so checkpoints save it.
 */
import { l2Normalize, type Rng, tf } from "@selfsup/core";

export interface KeyQueue {
  /** [K, D] keys, L2-normalized; row `pointer` is the oldest, overwritten next. */
  keys: tf.Variable;
  /** int32 scalar: where the next batch of keys is written. */
  pointer: tf.Variable;
}

/** A queue of `size` random unit vectors (MoCo initialises its queue with normalized noise). */
export function createKeyQueue(size: number, dim: number, rng: Rng): KeyQueue {
  const keys = tf.tidy(() =>
    tf.variable(l2Normalize(tf.randomNormal([size, dim], 0, 1, "float32", rng.seed())), false),
  );
  const pointer = tf.variable(tf.scalar(0, "int32"), false);
  return { keys, pointer };
}

/**
 * Enqueues a batch of B keys and dequeues the B oldest: rows pointer, pointer+1, ... (mod K) are
 * overwritten by keys 0, 1, ..., B-1 and the pointer moves to (pointer + B) mod K.
 *
 * MoCo's reference code asserts K % B == 0 and writes one slice; here K need not be a multiple of
 * B: a batch that runs past the end wraps to the start (the write is in effect two slices,
 * [pointer, K) and [0, pointer + B - K)). It is done on the device in one masked select, row r
 * taking key (r - pointer) mod K when that offset is below B, so it never reads the pointer back.
 * Call it after computing the loss: the current batch's keys must not be their own negatives.
 */
export function enqueueKeys(queue: KeyQueue, keys: tf.Tensor): void {
  const [size, dim] = queue.keys.shape as [number, number];
  const batch = keys.shape[0] as number;
  if (keys.rank !== 2 || keys.shape[1] !== dim) {
    throw new Error(`enqueueKeys: keys must be [B, ${dim}], got [${keys.shape}]`);
  }
  if (batch > size) {
    throw new Error(
      `enqueueKeys: a batch of ${batch} keys does not fit a queue of ${size}; use a queue size of at least the batch size`,
    );
  }
  tf.tidy(() => {
    const rows = tf.range(0, size, 1, "int32");
    const offset = tf.mod(
      tf.add(tf.sub(rows, queue.pointer), tf.scalar(size, "int32")),
      tf.scalar(size, "int32"),
    );
    const written = tf.less(offset, tf.scalar(batch, "int32"));
    const incoming = tf.gather(keys, tf.minimum(offset, tf.scalar(batch - 1, "int32")));
    const mask = tf.tile(tf.expandDims(written, 1), [1, dim]);
    queue.keys.assign(tf.where(mask, incoming, queue.keys));
    queue.pointer.assign(tf.mod(tf.add(queue.pointer, tf.scalar(batch, "int32")), tf.scalar(size, "int32")));
  });
}
