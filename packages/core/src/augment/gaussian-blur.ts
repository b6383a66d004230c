/**
 * Gaussian blur with a random sigma per sample. SimCLR (Chen et al. 2020, appendix A) blurs
 * ImageNet views with p = 0.5, sigma uniform in [0.1, 2.0] and a kernel 10% of the image side; it
 * leaves blur out on 32x32 CIFAR, where it destroys too much (our pipelines add it from 64 px).
 *
 * Batched with per-sample kernels: the batch is folded into the channel axis ([1,H,W,B*C]) so that
 * one separable depthwise convolution (a row pass and a column pass) gives every sample its own
 * kernel. Borders are reflect-padded, as torchvision does, so the mean intensity is preserved.
 * Samples not chosen by `p` get a delta kernel, which leaves them exactly unchanged.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import { tf } from "../tf.js";
import { coinFlips, imageShape } from "./util.js";

export const gaussianBlurOptions = z.object({
  /** Range of the standard deviation in pixels. */
  sigma: z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(([a, b]) => a <= b, "the lower bound must not exceed the upper bound")
    .default([0.1, 2.0]),
  /** Odd kernel size in pixels; default: 10% of the shorter image side, made odd, at least 3. */
  kernelSize: z
    .number()
    .int()
    .positive()
    .refine((k) => k % 2 === 1, "kernel size must be odd")
    .optional(),
  p: z.number().min(0).max(1).default(0.5),
});

/** Normalised 1-D gaussian taps of length 2r+1 (a delta when sigma is 0). */
export function gaussianKernel1d(sigma: number, radius: number): number[] {
  const taps = new Array<number>(2 * radius + 1).fill(0);
  if (sigma <= 0) {
    taps[radius] = 1;
    return taps;
  }
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    taps[i + radius] = v;
    sum += v;
  }
  return taps.map((v) => v / sum);
}

/** Blurs image b of x [B,H,W,C] with sigma[b] (0 = unchanged), kernel 2*radius+1. */
export function blurPerSample(x: tf.Tensor, sigmas: number[], radius: number): tf.Tensor {
  const [b, h, w, c] = imageShape(x, "gaussian-blur");
  const r = Math.min(radius, h - 1, w - 1);
  if (r <= 0) return tf.clone(x);
  return tf.tidy(() => {
    const k = 2 * r + 1;
    const taps = new Float32Array(k * b * c);
    sigmas.forEach((s, i) => {
      const kern = gaussianKernel1d(s, r);
      for (let t = 0; t < k; t++) for (let ch = 0; ch < c; ch++) taps[t * b * c + i * c + ch] = kern[t]!;
    });
    // [B,H,W,C] -> [1,H,W,B*C]
    const folded = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, h, w, b * c]) as tf.Tensor4D;
    const padded = tf.mirrorPad(
      folded,
      [
        [0, 0],
        [r, r],
        [r, r],
        [0, 0],
      ],
      "reflect",
    );
    const rows = tf.depthwiseConv2d(padded, tf.tensor4d(taps, [1, k, b * c, 1]), 1, "valid");
    const both = tf.depthwiseConv2d(rows, tf.tensor4d(taps, [k, 1, b * c, 1]), 1, "valid");
    return tf.transpose(tf.reshape(both, [h, w, b, c]), [2, 0, 1, 3]);
  });
}

export const gaussianBlur = defineAugmentation({
  name: "gaussian-blur",
  description: "Gaussian blur with sigma uniform in `sigma` per sample, with probability p (SimCLR)",
  options: gaussianBlurOptions,
  create(opts) {
    return {
      name: "gaussian-blur",
      apply(x, rng) {
        const [b, h, w] = imageShape(x, "gaussian-blur");
        const on = coinFlips(rng, b, opts.p);
        const sigmas = on.map((v) => (v ? rng.uniform(opts.sigma[0], opts.sigma[1]) : 0));
        if (on.every((v) => v === 0)) return tf.clone(x);
        let size = opts.kernelSize ?? Math.max(3, Math.round(0.1 * Math.min(h, w)));
        if (size % 2 === 0) size += 1;
        return blurPerSample(x, sigmas, (size - 1) / 2);
      },
    };
  },
});
