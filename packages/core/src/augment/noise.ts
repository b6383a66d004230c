/**
 * Additive gaussian pixel noise, clipped back to [0,1]. Small noise (std ~0.05) makes digit
 * representations ignore pixel-exact detail; it is part of DIGITS_PIPELINE. The noise is tfjs'
 * seeded `randomNormal` (seededNormal: the same values, generated faster) with a seed drawn from
 * the rng, so it is reproducible too.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import { tf } from "../tf.js";
import { seededNormal } from "./seeded-normal.js";
import { coinFlips, imageShape, perSample } from "./util.js";

export const noiseOptions = z.object({
  /** Standard deviation of the noise, in pixel units of [0,1]. */
  std: z.number().min(0).default(0.05),
  /** Probability that a sample gets noise. */
  p: z.number().min(0).max(1).default(1),
  /** Clip the result to [0,1]. */
  clip: z.boolean().default(true),
});

export const noise = defineAugmentation({
  name: "noise",
  description: "Add gaussian noise of standard deviation `std` (clipped to [0,1]) with probability p",
  options: noiseOptions,
  create(opts) {
    return {
      name: "noise",
      apply(x, rng) {
        const [b] = imageShape(x, "noise");
        const on = coinFlips(rng, b, opts.p);
        const seed = rng.seed();
        if (opts.std === 0 || on.every((v) => v === 0)) return tf.clone(x);
        return tf.tidy(() => {
          const eps = seededNormal(x.shape, 0, opts.std, seed);
          // Every sample on (p = 1, the default): eps·1 is eps, so skip that pass over the batch.
          const y = tf.add(x, on.every((v) => v === 1) ? eps : tf.mul(eps, perSample(on)));
          return opts.clip ? tf.clipByValue(y, 0, 1) : y;
        });
      },
    };
  },
});
