/**
 * Softmax cross-entropy, the one copy every classifier in selfsup uses (the supervised baseline,
 * the linear probe, the pretext tasks' made-up labels, colour bins, visual and text tokens).
 */
import { tf } from "../tf.js";

/**
 * Per-item negative log-likelihood `-log softmax(logits)[label]` over the last axis: `logits`
 * [..., K] and integer `labels` [...] give [...]. For masked or weighted means of one's own.
 */
export function softmaxNll(logits: tf.Tensor, labels: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const k = logits.shape[logits.rank - 1] as number;
    const onehot = tf.oneHot(tf.cast(labels, "int32"), k);
    return tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), -1));
  });
}

/**
 * Mean softmax cross-entropy of `logits` [..., K] against integer `labels` [...]; with `weights`
 * [...] the weighted mean sum(w·ce) / sum(w).
 */
export function softmaxCrossEntropy(logits: tf.Tensor, labels: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const k = logits.shape[logits.rank - 1] as number;
    const ce = softmaxNll(tf.reshape(logits, [-1, k]), tf.reshape(labels, [-1]));
    if (!weights) return tf.mean(ce) as tf.Scalar;
    const w = tf.reshape(weights, [-1]);
    return tf.div(tf.sum(tf.mul(ce, w)), tf.maximum(tf.sum(w), 1e-12)) as tf.Scalar;
  });
}
