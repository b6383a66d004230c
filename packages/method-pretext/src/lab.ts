/**
 * sRGB <-> CIE L*a*b* (D65 white), in tensors for training and in plain numbers for tables and
 * tests. Colorization (Zhang et al. 2016) predicts a*b* from L*.
 *
 *   sRGB in [0,1] -> linear: c <= 0.04045 ? c/12.92 : ((c + 0.055)/1.055)^2.4
 *   linear -> XYZ by the sRGB matrix, divided by the D65 white (0.95047, 1, 1.08883)
 *   f(t) = t > (6/29)^3 ? t^(1/3) : t / (3 (6/29)^2) + 4/29
 *   L = 116 f(Y) - 16,  a = 500 (f(X) - f(Y)),  b = 200 (f(Y) - f(Z))
 */
import { tf } from "@selfsup/core";

const M = [
  [0.4124564, 0.3575761, 0.1804375],
  [0.2126729, 0.7151522, 0.072175],
  [0.0193339, 0.119192, 0.9503041],
] as const;
const WHITE = [0.95047, 1, 1.08883] as const;
const EPS = (6 / 29) ** 3;
const KAPPA = 3 * (6 / 29) ** 2;

function linearize(c: number): number {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function f(t: number): number {
  return t > EPS ? Math.cbrt(t) : t / KAPPA + 4 / 29;
}

/** One sRGB colour (components in [0,1]) as [L, a, b]. */
export function rgbToLabNumbers(r: number, g: number, b: number): [number, number, number] {
  const lin = [linearize(r), linearize(g), linearize(b)];
  const xyz = M.map((row, i) => (row[0] * lin[0]! + row[1] * lin[1]! + row[2] * lin[2]!) / WHITE[i]!);
  const [fx, fy, fz] = xyz.map(f) as [number, number, number];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** Images [..., 3] in sRGB [0,1] as [..., 3] holding L in [0,100] and a, b (about -110..110). */
export function rgbToLab(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const c = tf.clipByValue(x, 0, 1);
    const lin = tf.where(
      tf.lessEqual(c, 0.04045),
      tf.div(c, 12.92),
      tf.pow(tf.div(tf.add(c, 0.055), 1.055), 2.4),
    );
    // rows of M^T scaled by 1/white: xyz = lin @ (M^T / white)
    const mt = tf.tensor2d(
      [0, 1, 2].map((j) => [0, 1, 2].map((i) => (M[i] as readonly number[])[j]! / WHITE[i]!)),
    );
    const shape = lin.shape;
    const xyz = tf.reshape(tf.matMul(tf.reshape(lin, [-1, 3]), mt), shape);
    const safe = tf.maximum(xyz, EPS);
    const fxyz = tf.where(tf.greater(xyz, EPS), tf.pow(safe, 1 / 3), tf.add(tf.div(xyz, KAPPA), 4 / 29));
    const [fx, fy, fz] = tf.split(fxyz, 3, -1) as [tf.Tensor, tf.Tensor, tf.Tensor];
    return tf.concat(
      [tf.sub(tf.mul(fy, 116), 16), tf.mul(tf.sub(fx, fy), 500), tf.mul(tf.sub(fy, fz), 200)],
      -1,
    );
  });
}

/**
 * The a*b* bins of side `grid` that sRGB colours reach (Zhang et al.'s 313 in-gamut bins for grid
 * 10), as bin centres [[a, b], ...] in a stable order. Found by converting a dense sample of the
 * RGB cube.
 */
export function inGamutAbBins(grid = 10, samples = 48): Array<[number, number]> {
  const seen = new Map<string, [number, number]>();
  for (let i = 0; i <= samples; i++)
    for (let j = 0; j <= samples; j++)
      for (let k = 0; k <= samples; k++) {
        const [, a, b] = rgbToLabNumbers(i / samples, j / samples, k / samples);
        const ca = Math.round(a / grid) * grid;
        const cb = Math.round(b / grid) * grid;
        const key = `${ca},${cb}`;
        if (!seen.has(key)) seen.set(key, [ca, cb]);
      }
  return [...seen.values()].sort((p, q) => p[0] - q[0] || p[1] - q[1]);
}
