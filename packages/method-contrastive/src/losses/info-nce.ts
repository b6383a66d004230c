/**
 * InfoNCE, the contrastive loss of CPC and MoCo.
 *
 * van den Oord, Li, Vinyals, "Representation Learning with Contrastive Predictive Coding", 2018.
 * https://arxiv.org/abs/1807.03748 (Eq. 4).
 * He, Fan, Wu, Xie, Girshick, "Momentum Contrast for Unsupervised Visual Representation
 * Learning", CVPR 2020. https://arxiv.org/abs/1911.05722 (Eq. 1 and Algorithm 1).
 *
 * Queries q [N, D] and their positive keys k [N, D] are L2-normalized (unless `normalize: false`).
 *
 * With a queue of negatives Q [K, D] (MoCo):
 *   l_pos_i  = q_i . k_i / t                      (one positive per query)
 *   l_neg_ij = q_i . Q_j / t,  j = 1..K           (the queue holds keys of earlier batches)
 *   loss = (1/N) sum_i [ -l_pos_i + log( exp(l_pos_i) + sum_j exp(l_neg_ij) ) ]
 * i.e. a (K+1)-way softmax cross-entropy whose label is class 0.
 *
 * Without a queue (CPC / in-batch negatives), the other keys of the batch are the negatives:
 *   s_ij = q_i . k_j / t,   loss = (1/N) sum_i [ -s_ii + log sum_j exp(s_ij) ]
 *
 * The keys get gradient unless the caller detaches them; MoCo computes its keys outside the
 * gradient tape (momentum encoder), so no stop-gradient is needed here. log-sum-exp subtracts the
 * row maximum, so t = 0.01 or large raw embeddings stay finite.
 *
 * Usage:
 *   const loss = infoNCELoss(q, k, queue, { temperature: 0.07 });
 */
import { defineLoss, l2Normalize, tf } from "@selfsup/core";
import { z } from "zod";
import { assertPair, lossOptions, requireInput } from "./inputs.js";

/** Options of infoNCELoss / the "info-nce" spec; their defaults live here only. */
export const infoNCEOptions = z.object({
  temperature: z
    .number()
    .positive("must be > 0")
    .default(0.07)
    .describe(
      "softmax temperature t > 0 (MoCo: 0.07; MoCo v2 keeps 0.07 on ImageNet, 0.2 with its MLP head)",
    ),
  normalize: z.boolean().default(true).describe("L2-normalize queries, keys and negatives first"),
});
export type InfoNCEOptions = z.input<typeof infoNCEOptions>;

export function infoNCELoss(
  query: tf.Tensor,
  positiveKey: tf.Tensor,
  negatives?: tf.Tensor | null,
  opts: InfoNCEOptions = {},
): tf.Scalar {
  const { temperature, normalize } = lossOptions("infoNCELoss", infoNCEOptions, opts);
  assertPair("infoNCELoss", query, positiveKey, 1);
  if (negatives != null && (negatives.rank !== 2 || negatives.shape[1] !== query.shape[1])) {
    throw new Error(
      `infoNCELoss: negatives must be [K, ${query.shape[1]}] to match the queries' dimension, got [${negatives.shape}]`,
    );
  }
  return tf.tidy(() => {
    const q = normalize ? l2Normalize(query) : query;
    const k = normalize ? l2Normalize(positiveKey) : positiveKey;
    if (negatives == null) {
      const logits = tf.div(tf.matMul(q, k, false, true), temperature); // [N, N]
      const n = q.shape[0] as number;
      const positive = tf.sum(tf.mul(logits, tf.eye(n)), 1);
      return tf.mean(tf.sub(tf.logSumExp(logits, 1), positive)) as tf.Scalar;
    }
    const queue = normalize ? l2Normalize(negatives) : negatives;
    const positive = tf.div(tf.sum(tf.mul(q, k), 1, true), temperature); // [N, 1]
    const negative = tf.div(tf.matMul(q, queue, false, true), temperature); // [N, K]
    const logits = tf.concat([positive, negative], 1); // [N, 1 + K]; label 0
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), tf.squeeze(positive, [1]))) as tf.Scalar;
  });
}

export const infoNCELossSpec = defineLoss({
  name: "info-nce",
  description:
    "InfoNCE (Oord et al. 2018; MoCo, He et al. 2020): queries vs positive keys and a queue of negatives, or in-batch negatives. Inputs: q [N,D], k [N,D], optional queue [K,D].",
  options: infoNCEOptions,
  create:
    (opts) =>
    (...inputs) =>
      infoNCELoss(
        requireInput("info-nce", inputs, 0, "query", "loss(q, k, queue?)"),
        requireInput("info-nce", inputs, 1, "positiveKey", "loss(q, k, queue?)"),
        inputs[2] ?? null,
        opts,
      ),
});
