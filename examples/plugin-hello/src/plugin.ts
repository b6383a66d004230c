/**
 * An example third-party plugin, written only against @selfsup/core's public API, the way any
 * user would write one: an `invert` augmentation and an `l1` loss. The package.json field
 * `"selfsup": { "plugin": "./dist/plugin.js" }` is what makes `selfsup list` find it.
 */
import { defineAugmentation, defineLoss, definePlugin, tf } from "@selfsup/core";
import { z } from "zod";

export const invert = defineAugmentation({
  name: "invert",
  description: "Inverts image intensities (x -> 1 - x) with probability p, per sample",
  options: z.object({ p: z.number().min(0).max(1).default(0.5) }),
  create: (opts) => ({
    name: "invert",
    apply: (x, rng) =>
      tf.tidy(() => {
        const batch = x.shape[0] ?? 0;
        const flags = Array.from({ length: batch }, () => (rng.next() < opts.p ? 1 : 0));
        const mask = tf.tensor(flags, [batch, ...x.shape.slice(1).map(() => 1)]);
        return tf.add(tf.mul(x, tf.sub(1, tf.mul(2, mask))), mask);
      }),
  }),
});

export const l1 = defineLoss({
  name: "l1",
  description: "Mean absolute error: mean(|a - b|)",
  options: z.object({}),
  create: () => (a, b) => {
    if (!a || !b) throw new Error("l1 loss takes two tensors");
    return tf.mean(tf.abs(tf.sub(a, b))) as tf.Scalar;
  },
});

export default definePlugin({
  name: "@selfsup/example-plugin-hello",
  version: "0.1.0",
  augmentations: [invert],
  losses: [l1],
});
