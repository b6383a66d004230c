/**
 * Color jitter: random brightness, contrast, saturation and hue, with torchvision's semantics
 * (factors uniform in [max(0, 1-s), 1+s], hue shift uniform in [-h, h] of a full turn). SimCLR
 * (Chen et al. 2020, https://arxiv.org/abs/2002.05709, appendix A) showed that crops alone let the
 * network match views by their colour histogram; strong colour distortion removes that shortcut.
 * Its recipe with strength s: (0.8s, 0.8s, 0.8s, 0.2s) applied with p = 0.8; the common CIFAR
 * setting (s = 0.5) is 0.4/0.4/0.4/0.1.
 *
 * Factors are drawn per sample. torchvision shuffles the order of the four adjustments per image;
 * here one random order is drawn per call (per batch), which keeps the work to one pass per
 * adjustment. On 1-channel images only brightness and contrast apply.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import type { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { coinFlips, imageShape, luma, perSample, selectPerSample } from "./util.js";

export const colorJitterOptions = z.object({
  brightness: z.number().min(0).default(0.4),
  contrast: z.number().min(0).default(0.4),
  saturation: z.number().min(0).default(0.4),
  /** Maximum hue shift as a fraction of a full turn, at most 0.5. */
  hue: z.number().min(0).max(0.5).default(0.1),
  /** Probability that a sample is jittered at all. */
  p: z.number().min(0).max(1).default(0.8),
});
export type ColorJitterOptions = z.output<typeof colorJitterOptions>;

/** x * f per sample, clipped. */
export function adjustBrightness(x: tf.Tensor, factors: number[]): tf.Tensor {
  return tf.tidy(() => tf.clipByValue(tf.mul(x, perSample(factors)), 0, 1));
}

/** Blend with the image's mean gray level: f*x + (1-f)*mean (torchvision). */
export function adjustContrast(x: tf.Tensor, factors: number[]): tf.Tensor {
  return tf.tidy(() => {
    const gray = x.shape[3] === 3 ? luma(x) : x;
    const mean = tf.mean(gray, [1, 2, 3], true);
    const f = perSample(factors);
    return tf.clipByValue(tf.add(tf.mul(x, f), tf.mul(mean, tf.sub(1, f))), 0, 1);
  });
}

/** Blend with the per-pixel gray image: f*x + (1-f)*gray (torchvision). RGB only. */
export function adjustSaturation(x: tf.Tensor, factors: number[]): tf.Tensor {
  return tf.tidy(() => {
    const gray = luma(x);
    const f = perSample(factors);
    return tf.clipByValue(tf.add(tf.mul(x, f), tf.mul(gray, tf.sub(1, f))), 0, 1);
  });
}

/**
 * Rotates the hue of RGB images by `shifts` (fractions of a turn) through HSV, as torchvision's
 * `adjust_hue`: rgb -> hsv, h = (h + shift) mod 1, hsv -> rgb.
 */
export function adjustHue(x: tf.Tensor, shifts: number[]): tf.Tensor {
  return tf.tidy(() => {
    const [r, g, b] = tf.split(x, 3, 3) as [tf.Tensor, tf.Tensor, tf.Tensor];
    const max = tf.maximum(tf.maximum(r, g), b);
    const min = tf.minimum(tf.minimum(r, g), b);
    const delta = tf.sub(max, min);
    const safe = tf.where(tf.greater(delta, 0), delta, tf.onesLike(delta));
    const hr = tf.mod(tf.div(tf.sub(g, b), safe), 6);
    const hg = tf.add(tf.div(tf.sub(b, r), safe), 2);
    const hb = tf.add(tf.div(tf.sub(r, g), safe), 4);
    let h = tf.where(tf.equal(max, r), hr, tf.where(tf.equal(max, g), hg, hb));
    h = tf.where(tf.greater(delta, 0), tf.div(h, 6), tf.zerosLike(h));
    const s = tf.where(
      tf.greater(max, 0),
      tf.div(delta, tf.where(tf.greater(max, 0), max, tf.onesLike(max))),
      tf.zerosLike(max),
    );
    const v = max;
    // shift and wrap into [0,1)
    h = tf.mod(tf.add(h, perSample(shifts)), 1);
    // hsv -> rgb: c_n = v - v*s*clip(min(k, 4-k), 0, 1), k = (n + 6h) mod 6, n = 5, 3, 1
    const h6 = tf.mul(h, 6);
    const vs = tf.mul(v, s);
    const channel = (n: number) => {
      const k = tf.mod(tf.add(h6, n), 6);
      return tf.sub(v, tf.mul(vs, tf.clipByValue(tf.minimum(k, tf.sub(4, k)), 0, 1)));
    };
    return tf.clipByValue(tf.concat([channel(5), channel(3), channel(1)], 3), 0, 1);
  });
}

const factor = (rng: Rng, s: number) => rng.uniform(Math.max(0, 1 - s), 1 + s);

export const colorJitter = defineAugmentation({
  name: "color-jitter",
  description: "Random brightness, contrast, saturation and hue per sample, with probability p (SimCLR)",
  options: colorJitterOptions,
  create(opts) {
    return {
      name: "color-jitter",
      apply(x, rng) {
        const [b, , , c] = imageShape(x, "color-jitter");
        const on = coinFlips(rng, b, opts.p);
        const rgb = c === 3;
        const order = rng.shuffle([0, 1, 2, 3]);
        const bright = Array.from({ length: b }, () => factor(rng, opts.brightness));
        const contrast = Array.from({ length: b }, () => factor(rng, opts.contrast));
        const sat = Array.from({ length: b }, () => factor(rng, opts.saturation));
        const hue = Array.from({ length: b }, () => rng.uniform(-opts.hue, opts.hue));
        if (on.every((v) => v === 0)) return tf.clone(x);
        return tf.tidy(() => {
          let y: tf.Tensor = x;
          for (const op of order) {
            if (op === 0 && opts.brightness > 0) y = adjustBrightness(y, bright);
            else if (op === 1 && opts.contrast > 0) y = adjustContrast(y, contrast);
            else if (op === 2 && rgb && opts.saturation > 0) y = adjustSaturation(y, sat);
            else if (op === 3 && rgb && opts.hue > 0) y = adjustHue(y, hue);
          }
          return y === x ? tf.clone(x) : selectPerSample(on, y, x);
        });
      },
    };
  },
});
