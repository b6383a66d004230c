/**
 * Horizontal flip with probability `p` per sample (SimCLR's and BYOL's p = 0.5). Not for digits or
 * text in images: a flipped "2" is not a "2", so DIGITS_PIPELINE leaves it out.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import { tf } from "../tf.js";
import { coinFlips, imageShape, selectPerSample } from "./util.js";

export const horizontalFlipOptions = z.object({
  /** Probability that a sample is flipped. */
  p: z.number().min(0).max(1).default(0.5),
});

export const horizontalFlip = defineAugmentation({
  name: "horizontal-flip",
  description: "Mirror images left-right with probability p per sample",
  options: horizontalFlipOptions,
  create(opts) {
    return {
      name: "horizontal-flip",
      apply(x, rng) {
        const [b] = imageShape(x, "horizontal-flip");
        const on = coinFlips(rng, b, opts.p);
        if (on.every((v) => v === 0)) return tf.clone(x);
        return tf.tidy(() => {
          const flipped = tf.reverse(x, 2);
          return on.every((v) => v === 1) ? flipped : selectPerSample(on, flipped, x);
        });
      },
    };
  },
});
