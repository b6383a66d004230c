import type { TrainBatch } from "../plugin/types.js";
import type { tf } from "../tf.js";

/**
 * The first `n` augmented views of a batch, or an error that names the method and says what came
 * instead (the trainer makes `method.views` views with the augmentation pipeline).
 */
export function requireViews(batch: TrainBatch, n: number, method: string): tf.Tensor[] {
  if (batch.views.length < n) {
    throw new Error(
      `${method} needs ${n} augmented views per batch (its \`views\` is ${n}), but the batch has ${batch.views.length}; ` +
        "the trainer makes them with the augmentation pipeline",
    );
  }
  return batch.views.slice(0, n);
}

/** The two augmented views a joint-embedding method trains on. */
export function twoViews(batch: TrainBatch, method: string): [tf.Tensor, tf.Tensor] {
  const [a, b] = requireViews(batch, 2, method) as [tf.Tensor, tf.Tensor];
  return [a, b];
}
