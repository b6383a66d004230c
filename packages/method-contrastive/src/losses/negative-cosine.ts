/**
 * Negative cosine similarity, the regression loss of BYOL and SimSiam.
 *
 * Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020. https://arxiv.org/abs/2006.07733 (Eq. 2)
 * Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021.
 * https://arxiv.org/abs/2011.10566 (Eq. 1)
 *
 * For predictions p [N, D] and targets z [N, D]:
 *
 *   D(p, z) = -(1/N) sum_i  p_i . z_i / (||p_i|| ||z_i||)
 *
 * in [-1, 1]. BYOL writes the same loss as the normalized MSE ||p/|p| - z/|z|||^2 = 2 - 2 cos,
 * i.e. 2 + 2 D(p, z): same minimizer, twice the gradient.
 *
 * The target must not receive gradient (the stop-gradient is what prevents collapse in SimSiam):
 * the caller computes it outside the gradient tape or passes it through `stopGradient` (../stop-gradient.ts) first.
 *
 * Usage:
 *   const loss = tf.add(negativeCosineSimilarity(p1, stopGradient(z2)), negativeCosineSimilarity(p2, stopGradient(z1))).div(2);
 */
import { defineLoss, l2Normalize, tf } from "@selfsup/core";
import { z } from "zod";
import { assertPair, requireInput } from "./inputs.js";

export function negativeCosineSimilarity(prediction: tf.Tensor, target: tf.Tensor): tf.Scalar {
  assertPair("negativeCosineSimilarity", prediction, target, 1);
  return tf.tidy(
    () => tf.neg(tf.mean(tf.sum(tf.mul(l2Normalize(prediction), l2Normalize(target)), 1))) as tf.Scalar,
  );
}

export const negativeCosineLossSpec = defineLoss({
  name: "negative-cosine",
  description:
    "Negative cosine similarity -mean(cos(p, z)) of BYOL (Grill et al. 2020) and SimSiam (Chen & He 2021); the caller stops the target's gradient. Inputs: p [N,D], z [N,D].",
  options: z.object({}),
  create:
    () =>
    (...inputs) =>
      negativeCosineSimilarity(
        requireInput("negative-cosine", inputs, 0, "prediction", "loss(p, z)"),
        requireInput("negative-cosine", inputs, 1, "target", "loss(p, z)"),
      ),
});
