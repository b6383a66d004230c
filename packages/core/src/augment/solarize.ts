/**
 * Solarize: pixels at or above `threshold` are inverted (v -> 1 - v), as PIL's `ImageOps.solarize`.
 * BYOL (Grill et al. 2020, https://arxiv.org/abs/2006.07733, table 6) applies it to the second view
 * with p = 0.2 and threshold 0.5.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import { tf } from "../tf.js";
import { coinFlips, imageShape, selectPerSample } from "./util.js";

export const solarizeOptions = z.object({
  threshold: z.number().min(0).max(1).default(0.5),
  p: z.number().min(0).max(1).default(0.2),
});

/** Solarizes every image of the batch. */
export function solarizeAll(x: tf.Tensor, threshold: number): tf.Tensor {
  return tf.tidy(() => tf.where(tf.greaterEqual(x, threshold), tf.sub(1, x), x));
}

export const solarize = defineAugmentation({
  name: "solarize",
  description: "Invert pixels >= threshold with probability p per sample (BYOL)",
  options: solarizeOptions,
  create(opts) {
    return {
      name: "solarize",
      apply(x, rng) {
        const [b] = imageShape(x, "solarize");
        const on = coinFlips(rng, b, opts.p);
        if (on.every((v) => v === 0)) return tf.clone(x);
        return tf.tidy(() => selectPerSample(on, solarizeAll(x, opts.threshold), x));
      },
    };
  },
});
