/**
 * The pretext tasks' metric: every task here is "predict the label we made up" (a rotation, a
 * permutation, a neighbour's position, a colour bin, a cluster), trained with core's
 * `softmaxCrossEntropy`.
 */
import { tf } from "@selfsup/core";

/** Fraction of rows of `logits` [N, K] whose argmax is `labels` [N] (a metric: no gradient). */
export function accuracy(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[logits.rank - 1] as number;
    const pred = tf.argMax(tf.reshape(logits, [-1, k]), 1);
    return tf.mean(
      tf.cast(tf.equal(pred, tf.reshape(tf.cast(labels, "int32"), [-1])), "float32"),
    ) as tf.Scalar;
  });
}
