import { Rng, tf } from "@selfsup/core";

/**
 * Synthetic 16x16 gray images with structure a masked model can learn to fill in: a vertical and
 * a horizontal bar of random position and brightness on a dark background.
 */
export function barImages(n: number, seed: number, size = 16): tf.Tensor4D {
  const rng = new Rng(seed);
  const out = new Float32Array(n * size * size);
  for (let i = 0; i < n; i++) {
    const col = rng.int(size - 3);
    const row = rng.int(size - 3);
    const a = 0.5 + 0.5 * rng.next();
    const b = 0.5 + 0.5 * rng.next();
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let v = 0.05;
        if (x >= col && x < col + 3) v = Math.max(v, a);
        if (y >= row && y < row + 3) v = Math.max(v, b);
        out[(i * size + y) * size + x] = v;
      }
    }
  }
  return tf.tensor4d(out, [n, size, size, 1]);
}
