/**
 * SwAV's equipartitioned soft assignment and swapped-prediction loss.
 *
 * Caron, Misra, Mairal, Goyal, Bojanowski, Joulin, "Unsupervised Learning of Visual Features by
 * Contrasting Cluster Assignments", NeurIPS 2020. https://arxiv.org/abs/2006.09882
 *
 * Sinkhorn-Knopp (section 3.1, Algorithm 1 of the paper's appendix): given prototype scores
 * S [B, K], Q = exp(S / eps)^T is rescaled in turn so that its K rows each sum to 1/K and its B
 * columns each sum to 1/B (every prototype gets an equal share of the batch), `iterations` times;
 * the codes are B * Q^T, each row a distribution over prototypes. Computed without gradient.
 *
 * Swapped prediction: with p_v = softmax(S_v / t), loss = - mean_{i != j} mean_b sum_k q_i log p_j,
 * codes q_i of the global views i predicted from every other view j.
 */
import { defineLoss, tf } from "@selfsup/core";
import { z } from "zod";

/** Codes [B, K] from scores [B, K]; no gradient flows through (call it outside the tape or detach). */
export function sinkhornKnopp(scores: tf.Tensor2D, epsilon = 0.05, iterations = 3): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, k] = scores.shape;
    // exp((s - max) / eps): a global factor that the first normalisation cancels exactly (so the
    // iterates equal the reference's), keeping exp finite. SwAV's scores are cosines in [-1, 1],
    // so no sample underflows entirely for eps >= 0.025; a prototype far from every sample can
    // underflow to a zero row: the tiny floor on the sums keeps it at 0 instead of NaN.
    const floor = 1e-30;
    let q = tf.transpose(tf.exp(tf.div(tf.sub(scores, tf.max(scores)), epsilon))) as tf.Tensor2D; // [K, B]
    q = tf.div(q, tf.sum(q));
    for (let i = 0; i < iterations; i++) {
      q = tf.div(tf.div(q, tf.maximum(tf.sum(q, 1, true), floor)), k);
      q = tf.div(tf.div(q, tf.maximum(tf.sum(q, 0, true), floor)), b);
    }
    return tf.transpose(tf.mul(q, b)) as tf.Tensor2D;
  });
}

/**
 * Cross-entropy of codes `q` [B, K] against the softmax of `scores` [B, K] at temperature t,
 * averaged over the batch: - mean_b sum_k q log softmax(scores / t).
 */
export function swappedPredictionLoss(q: tf.Tensor, scores: tf.Tensor, temperature: number): tf.Scalar {
  return tf.tidy(
    () => tf.neg(tf.mean(tf.sum(tf.mul(q, tf.logSoftmax(tf.div(scores, temperature))), 1))) as tf.Scalar,
  );
}

export const swapLoss = defineLoss({
  name: "swav-swapped-prediction",
  description: "SwAV: cross-entropy of Sinkhorn codes against softmax(scores / t) (Caron et al. 2020)",
  options: z.object({ temperature: z.number().positive().default(0.1) }),
  create: (opts) => (q, scores) => {
    if (!q || !scores) throw new Error("swav-swapped-prediction takes (codes [B,K], scores [B,K])");
    return swappedPredictionLoss(q, scores, opts.temperature);
  },
});
