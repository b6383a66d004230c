/**
 * Helpers shared by the augmentations: shape checks, per-sample coin flips and an exact per-sample
 * select. Random parameters are drawn on the JS side from the caller's `Rng` (one draw sequence per
 * call, in a fixed order), so the same rng state always gives the same views on every backend.
 */
import type { Rng } from "../rng.js";
import { tf } from "../tf.js";

/** Shape [B,H,W,C] of an image batch, or an error naming the op and the shape it got. */
export function imageShape(x: tf.Tensor, op: string): [number, number, number, number] {
  if (x.rank !== 4) {
    throw new Error(`${op}: expected an image batch [B,H,W,C], got a tensor of shape [${x.shape.join(",")}]`);
  }
  const [b, h, w, c] = x.shape as [number, number, number, number];
  return [b, h, w, c];
}

/** One Bernoulli(p) draw per sample, as 0/1 numbers. Draws nothing when p is 0 or 1. */
export function coinFlips(rng: Rng, n: number, p: number): number[] {
  if (p >= 1) return new Array<number>(n).fill(1);
  if (p <= 0) return new Array<number>(n).fill(0);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = rng.next() < p ? 1 : 0;
  return out;
}

/**
 * Per-sample choice between two batches: `on[b] ? a[b] : b[b]`, computed as a*m + b*(1-m), which is
 * exact for m in {0,1} (x*1 = x, x*0 = 0, x+0 = x), so untouched samples keep their exact values.
 */
export function selectPerSample(on: number[], a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const rest = new Array<number>(a.rank - 1).fill(1);
    const m = tf.tensor(on, [on.length, ...rest], "float32");
    return tf.add(tf.mul(a, m), tf.mul(b, tf.sub(1, m)));
  });
}

/** A per-sample scalar as a [B,1,1,1] tensor, for broadcasting against images. */
export function perSample(values: number[]): tf.Tensor4D {
  return tf.tensor4d(values, [values.length, 1, 1, 1], "float32");
}

/** ITU-R BT.601 luma weights, as PIL's `convert("L")` and torchvision's `rgb_to_grayscale` use. */
export const LUMA_WEIGHTS: readonly [number, number, number] = [0.299, 0.587, 0.114];

/** Luma of an RGB batch, [B,H,W,1]. */
export function luma(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sum(tf.mul(x, tf.tensor1d([...LUMA_WEIGHTS])), -1, true));
}
