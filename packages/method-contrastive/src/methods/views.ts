import type { TrainBatch, tf } from "@selfsup/core";

/** The two augmented views a joint-embedding method trains on, or an error saying what came instead. */
export function twoViews(batch: TrainBatch, method: string): [tf.Tensor, tf.Tensor] {
  const [a, b] = batch.views;
  if (a === undefined || b === undefined) {
    throw new Error(
      `${method} needs 2 augmented views per batch (its \`views\` is 2), but the batch has ${batch.views.length}; ` +
        "the trainer makes them with the augmentation pipeline",
    );
  }
  return [a, b];
}
