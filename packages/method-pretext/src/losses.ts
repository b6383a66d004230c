/**
 * Classification losses of the pretext tasks: every task here is "predict the label we made up"
 * (a rotation, a permutation, a neighbour's position, a colour bin, a cluster).
 */
import { tf } from "@selfsup/core";

/**
 * Mean softmax cross-entropy of `logits` [N, K] against integer `labels` [N], optionally weighted
 * per sample (`weights` [N]; the mean is then sum(w·ce) / sum(w)).
 */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[logits.rank - 1] as number;
    const flat = tf.reshape(logits, [-1, k]);
    const onehot = tf.oneHot(tf.reshape(tf.cast(labels, "int32"), [-1]), k);
    const ce = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(flat)), 1));
    if (!weights) return tf.mean(ce) as tf.Scalar;
    const w = tf.reshape(weights, [-1]);
    return tf.div(tf.sum(tf.mul(ce, w)), tf.maximum(tf.sum(w), 1e-12)) as tf.Scalar;
  });
}

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
