import { tf } from "../tf.js";

/**
 * Rows scaled to unit L2 norm: x / max(||x||, eps), as PyTorch's F.normalize. The clamp is taken
 * on the squared norm so that the gradient stays finite for an all-zero row.
 */
export function l2Normalize<T extends tf.Tensor>(x: T, eps = 1e-12): T {
  return tf.tidy(() => {
    const sumSq = tf.sum(tf.square(x), -1, true);
    return tf.mul(x, tf.rsqrt(tf.maximum(sumSq, eps * eps))) as T;
  });
}
