/**
 * Random grayscale with probability `p` (SimCLR: p = 0.2): replaces RGB by its luma (BT.601 weights
 * 0.299, 0.587, 0.114), repeated over the 3 channels so the shape is unchanged. It keeps the
 * network from solving the contrastive task by colour histograms alone. Identity on 1-channel
 * images.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import { tf } from "../tf.js";
import { coinFlips, imageShape, luma, selectPerSample } from "./util.js";

export const grayscaleOptions = z.object({
  /** Probability that a sample is turned gray. */
  p: z.number().min(0).max(1).default(0.2),
});

/** Luma of every image of an RGB batch, repeated over the 3 channels. */
export function toGrayscale(x: tf.Tensor): tf.Tensor {
  const [, , , c] = imageShape(x, "grayscale");
  if (c !== 3) return tf.clone(x);
  return tf.tidy(() => tf.tile(luma(x), [1, 1, 1, 3]));
}

export const grayscale = defineAugmentation({
  name: "grayscale",
  description: "Convert RGB images to gray (kept as 3 channels) with probability p per sample",
  options: grayscaleOptions,
  create(opts) {
    return {
      name: "grayscale",
      apply(x, rng) {
        const [b, , , c] = imageShape(x, "grayscale");
        const on = coinFlips(rng, b, opts.p);
        if (c !== 3 || on.every((v) => v === 0)) return tf.clone(x);
        return tf.tidy(() => selectPerSample(on, toGrayscale(x), x));
      },
    };
  },
});
