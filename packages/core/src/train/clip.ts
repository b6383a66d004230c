/**
 * Gradient clipping by global norm (Pascanu et al. 2013, https://arxiv.org/abs/1211.5063), as
 * `torch.nn.utils.clip_grad_norm_`: with n = sqrt(sum_i ||g_i||^2), every g_i is scaled by
 * min(1, maxNorm / (n + 1e-6)).
 */
import { tf } from "../tf.js";

/** sqrt of the sum of squares of every element of every tensor, as a scalar tensor. */
export function globalNorm(tensors: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (tensors.length === 0) return tf.scalar(0);
    const sums = tensors.map((t) => tf.sum(tf.square(t)));
    return tf.sqrt(tf.addN(sums)) as tf.Scalar;
  });
}

/**
 * Returns new tensors scaled to a global norm of at most `maxNorm`, and the norm before clipping.
 * The inputs are not disposed.
 */
export function clipByGlobalNorm(
  grads: readonly tf.Tensor[],
  maxNorm: number,
  norm?: number,
): { grads: tf.Tensor[]; norm: number } {
  const n = norm ?? globalNormValue(grads);
  const scale = clipScale(n, maxNorm);
  const out = grads.map((g) => (scale < 1 ? tf.tidy(() => tf.mul(g, scale)) : g.clone()));
  return { grads: out, norm: n };
}

export function globalNormValue(grads: readonly tf.Tensor[]): number {
  const n = globalNorm(grads);
  const v = n.dataSync()[0] as number;
  n.dispose();
  return v;
}

/** The factor clipByGlobalNorm scales gradients of global norm `norm` by: min(1, maxNorm / (norm + 1e-6)). */
export function clipScale(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}
