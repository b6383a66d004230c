/**
 * Barlow Twins' redundancy-reduction loss on the cross-correlation matrix of two views.
 *
 * Zbontar, Jing, Misra, LeCun, Deny, "Barlow Twins: Self-Supervised Learning via Redundancy
 * Reduction", ICML 2021. https://arxiv.org/abs/2103.03230 (Eq. 1 and 2, Algorithm 1).
 *
 * Each view's embeddings z^A, z^B [N, D] are standardized along the batch, as the official code
 * does with a BatchNorm1d(affine=False) in training mode (biased variance, eps = 1e-5):
 *
 *   zn_bi = (z_bi - mean_b z_bi) / sqrt(var_b z_bi + eps)
 *   C_ij  = (1/N) sum_b zn^A_bi zn^B_bj            (D x D cross-correlation, in [-1, 1])
 *   loss  = sum_i (1 - C_ii)^2  +  lambda * sum_i sum_{j != i} C_ij^2
 *
 * The invariance term pulls the diagonal to 1; the redundancy-reduction term pushes the
 * off-diagonal to 0. lambda = 5e-3 as in the paper (the official code uses 0.0051); the paper
 * projects to D = 8192, so with small projectors the off-diagonal sum has fewer terms and the same
 * lambda weighs it less. Standardization makes the loss independent of the embeddings' scale.
 *
 * Usage:
 *   const loss = barlowTwinsLoss(projector(backbone(viewA)), projector(backbone(viewB)), { lambda: 5e-3 });
 */
import { defineLoss, tf } from "@selfsup/core";
import { z } from "zod";
import { assertPair, lossOptions, requireInput } from "./inputs.js";

/** Options of barlowTwinsLoss / the "barlow-twins" spec; their defaults live here only. */
export const barlowTwinsOptions = z.object({
  lambda: z
    .number()
    .nonnegative()
    .default(5e-3)
    .describe("weight of the off-diagonal (redundancy-reduction) term (paper: 5e-3)"),
  eps: z
    .number()
    .positive()
    .default(1e-5)
    .describe("added to the batch variance before standardizing (BatchNorm's 1e-5)"),
});
export type BarlowTwinsOptions = z.input<typeof barlowTwinsOptions>;

/** Batch-standardized cross-correlation matrix C [D, D] of two [N, D] embeddings. */
export function crossCorrelation(z1: tf.Tensor, z2: tf.Tensor, eps = 1e-5): tf.Tensor2D {
  assertPair("crossCorrelation", z1, z2, 2);
  const n = z1.shape[0] as number;
  return tf.tidy(() => {
    const standardize = (x: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, 0, true);
      return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
    };
    return tf.div(tf.matMul(standardize(z1), standardize(z2), true, false), n) as tf.Tensor2D;
  });
}

export function barlowTwinsLoss(z1: tf.Tensor, z2: tf.Tensor, opts: BarlowTwinsOptions = {}): tf.Scalar {
  const { lambda, eps } = lossOptions("barlowTwinsLoss", barlowTwinsOptions, opts);
  assertPair("barlowTwinsLoss", z1, z2, 2);
  const d = z1.shape[1] as number;
  return tf.tidy(() => {
    const c = crossCorrelation(z1, z2, eps);
    const eye = tf.eye(d);
    const onDiagonal = tf.sum(tf.square(tf.sub(1, tf.sum(tf.mul(c, eye), 1))));
    const offDiagonal = tf.sum(tf.square(tf.mul(c, tf.sub(1, eye))));
    return tf.add(onDiagonal, tf.mul(lambda, offDiagonal)) as tf.Scalar;
  });
}

export const barlowTwinsLossSpec = defineLoss({
  name: "barlow-twins",
  description:
    "Barlow Twins' cross-correlation loss: sum (1 - C_ii)^2 + lambda sum_{i!=j} C_ij^2 over batch-standardized embeddings (Zbontar et al. 2021). Inputs: z1 [N,D], z2 [N,D], N >= 2.",
  options: barlowTwinsOptions,
  create:
    (opts) =>
    (...inputs) =>
      barlowTwinsLoss(
        requireInput("barlow-twins", inputs, 0, "z1", "loss(z1, z2)"),
        requireInput("barlow-twins", inputs, 1, "z2", "loss(z1, z2)"),
        opts,
      ),
});
