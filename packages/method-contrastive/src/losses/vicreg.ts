/**
 * VICReg: variance-invariance-covariance regularization.
 *
 * Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
 * Self-Supervised Learning", ICLR 2022. https://arxiv.org/abs/2105.04906 (Eq. 1 to 6).
 *
 * For two views' embeddings Z, Z' [N, D] (N >= 2):
 *
 *   s(Z, Z') = (1 / (N D)) sum_b sum_j (z_bj - z'_bj)^2                       invariance (MSE)
 *   v(Z)     = (1/D) sum_j max(0, gamma - sqrt(Var_b(z_j) + eps))             variance hinge
 *   c(Z)     = (1/D) sum_{i != j} Cov(Z)_ij^2,  Cov(Z) = (1/(N-1)) sum_b (z_b - mean)(z_b - mean)^T
 *   loss     = lambda s(Z, Z') + mu [v(Z) + v(Z')] / 2 + nu [c(Z) + c(Z')]
 *
 * with unbiased variance, gamma = 1, eps = 1e-4 and lambda = mu = 25, nu = 1 as in the paper and
 * the official code (which averages the two variance terms and sums the two covariance terms).
 *
 * Usage:
 *   const loss = vicregLoss(projector(backbone(view1)), projector(backbone(view2)));
 *   const { invariance, variance, covariance } = vicregTerms(z1, z2); // for logging
 */
import { defineLoss, tf } from "@selfsup/core";
import { z } from "zod";
import { assertPair, lossOptions, requireInput } from "./inputs.js";

/** Options of vicregLoss / the "vicreg" spec; their defaults live here only. */
export const vicregOptions = z.object({
  invarianceWeight: z
    .number()
    .nonnegative()
    .default(25)
    .describe("lambda: weight of the invariance MSE (paper: 25)"),
  varianceWeight: z
    .number()
    .nonnegative()
    .default(25)
    .describe("mu: weight of the variance hinge (paper: 25)"),
  covarianceWeight: z
    .number()
    .nonnegative()
    .default(1)
    .describe("nu: weight of the covariance term (paper: 1)"),
  gamma: z.number().positive().default(1).describe("target standard deviation per dimension (paper: 1)"),
  eps: z
    .number()
    .positive()
    .default(1e-4)
    .describe("epsilon under the square root of the variance (paper: 1e-4)"),
});
export type VICRegOptions = z.input<typeof vicregOptions>;

export interface VICRegTerms {
  invariance: tf.Scalar;
  variance: tf.Scalar;
  covariance: tf.Scalar;
  loss: tf.Scalar;
}

/** The three unweighted terms and the weighted total (the caller disposes all four). */
export function vicregTerms(z1: tf.Tensor, z2: tf.Tensor, opts: VICRegOptions = {}): VICRegTerms {
  assertPair("vicreg", z1, z2, 2);
  const [n, d] = z1.shape as [number, number];
  const { gamma, eps, invarianceWeight, varianceWeight, covarianceWeight } = lossOptions(
    "vicreg",
    vicregOptions,
    opts,
  );
  const result = tf.tidy(() => {
    const invariance = tf.mean(tf.square(tf.sub(z1, z2))) as tf.Scalar;
    const offDiagonalMask = tf.sub(1, tf.eye(d));
    const stats = (x: tf.Tensor) => {
      const centered = tf.sub(x, tf.mean(x, 0, true));
      const cov = tf.div(tf.matMul(centered, centered, true, false), n - 1); // [D, D], unbiased
      const std = tf.sqrt(tf.add(tf.div(tf.sum(tf.square(centered), 0), n - 1), eps));
      const variance = tf.mean(tf.relu(tf.sub(gamma, std)));
      const covariance = tf.div(tf.sum(tf.square(tf.mul(cov, offDiagonalMask))), d);
      return { variance, covariance };
    };
    const a = stats(z1);
    const b = stats(z2);
    const variance = tf.div(tf.add(a.variance, b.variance), 2) as tf.Scalar;
    const covariance = tf.add(a.covariance, b.covariance) as tf.Scalar;
    const loss = tf.addN([
      tf.mul(invarianceWeight, invariance),
      tf.mul(varianceWeight, variance),
      tf.mul(covarianceWeight, covariance),
    ]) as tf.Scalar;
    return { invariance, variance, covariance, loss };
  });
  return result;
}

export function vicregLoss(z1: tf.Tensor, z2: tf.Tensor, opts: VICRegOptions = {}): tf.Scalar {
  const { invariance, variance, covariance, loss } = vicregTerms(z1, z2, opts);
  tf.dispose([invariance, variance, covariance]);
  return loss;
}

export const vicregLossSpec = defineLoss({
  name: "vicreg",
  description:
    "VICReg: 25 * invariance MSE + 25 * variance hinge on std + 1 * off-diagonal covariance^2 / D (Bardes et al. 2022). Inputs: z1 [N,D], z2 [N,D], N >= 2.",
  options: vicregOptions,
  create:
    (opts) =>
    (...inputs) =>
      vicregLoss(
        requireInput("vicreg", inputs, 0, "z1", "loss(z1, z2)"),
        requireInput("vicreg", inputs, 1, "z2", "loss(z1, z2)"),
        opts,
      ),
});
