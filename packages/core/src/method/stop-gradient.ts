import { tf } from "../tf.js";

const detach = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
});

/**
 * Identity in the forward pass, zero gradient in the backward pass (PyTorch's `.detach()`).
 * tfjs has no stop-gradient op; a custom gradient that returns zeros gives the same parameter
 * gradients. Tensors computed outside `ctx.minimize` need none: they are not on the tape at all.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return detach(x) as T;
}
