/**
 * Shuffling BatchNorm on one device.
 *
 * MoCo (He et al. 2020, section 3.3) found that BatchNorm lets the model "cheat" the pretext task:
 * a query and its positive key, computed in the same mini-batch, share batch statistics that the
 * queue's negatives (older batches) do not, and the model can find the positive from them instead
 * of from the image. Its Shuffling BN runs the key encoder on a permutation of the batch split
 * over 8 GPUs, each GPU normalizing its own sub-batch, so a key's statistics come from a different
 * subset of samples than its query's.
 *
 * With one device we emulate it with "virtual devices": the query encoder runs on `groups`
 * consecutive chunks of the batch and the key encoder on `groups` chunks of a random permutation
 * (then un-permuted), BatchNorm normalizing each chunk on its own, as a GPU would. groups = 1
 * turns it off (the batch-shuffle-free variant). Chunks keep at least 2 samples (BatchNorm needs
 * them), so small batches use fewer groups.
 */
import { type Rng, tf } from "@selfsup/core";

/** Sizes of `groups` nearly equal chunks of `batch` rows, each of at least 2. */
export function chunkSizes(batch: number, groups: number): number[] {
  const g = Math.max(1, Math.min(groups, Math.floor(batch / 2)));
  return Array.from({ length: g }, (_, i) => Math.floor(batch / g) + (i < batch % g ? 1 : 0));
}

/**
 * f applied to `x` chunk by chunk (each chunk is its own BatchNorm batch), rows in the original
 * order. With `rng`, the chunks are drawn from a random permutation of the rows (Shuffling BN).
 */
export function groupedForward(
  f: (x: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  groups: number,
  rng?: Rng,
): tf.Tensor {
  const batch = x.shape[0] as number;
  const sizes = chunkSizes(batch, groups);
  if (sizes.length === 1) return f(x);
  return tf.tidy(() => {
    const order = Array.from({ length: batch }, (_, i) => i);
    if (rng) rng.shuffle(order);
    const inverse = new Array<number>(batch);
    order.forEach((row, i) => {
      inverse[row] = i;
    });
    const shuffled = rng ? tf.gather(x, tf.tensor1d(order, "int32")) : x;
    const out = tf.concat(tf.split(shuffled, sizes, 0).map(f), 0);
    return rng ? tf.gather(out, tf.tensor1d(inverse, "int32")) : out;
  });
}
