/**
 * Rotation by a random multiple of 90 degrees per sample, k drawn from `ks`. This is also the
 * pretext task of RotNet (Gidaris et al. 2018, "Unsupervised Representation Learning by Predicting
 * Image Rotations", https://arxiv.org/abs/1803.07728), which uses `rotate90By` with known k.
 * Needs square images unless only k in {0, 2} is allowed.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import { tf } from "../tf.js";
import { imageShape } from "./util.js";

export const rotate90Options = z.object({
  /** Allowed numbers of counter-clockwise quarter turns. */
  ks: z.array(z.number().int().min(0).max(3)).min(1).default([0, 1, 2, 3]),
});

/** Rotates every image by k quarter turns counter-clockwise (as numpy's rot90 on axes (H, W)). */
export function rotate90All(x: tf.Tensor, k: number): tf.Tensor {
  return tf.tidy(() => {
    switch (((k % 4) + 4) % 4) {
      case 1:
        return tf.reverse(tf.transpose(x, [0, 2, 1, 3]), 1);
      case 2:
        return tf.reverse(x, [1, 2]);
      case 3:
        return tf.reverse(tf.transpose(x, [0, 2, 1, 3]), 2);
      default:
        return tf.clone(x);
    }
  });
}

/** Rotates image b of x [B,H,W,C] by ks[b] quarter turns counter-clockwise. */
export function rotate90By(x: tf.Tensor, ks: number[]): tf.Tensor {
  const [b, h, w] = imageShape(x, "rotate90");
  if (ks.length !== b) throw new Error(`rotate90: ${ks.length} rotations for a batch of ${b}`);
  const norm = ks.map((k) => ((k % 4) + 4) % 4);
  if (h !== w && norm.some((k) => k % 2 === 1)) {
    throw new Error(
      `rotate90: quarter turns of non-square images (${h}x${w}) would change their shape; use ks [0, 2]`,
    );
  }
  const used = [...new Set(norm)].sort();
  if (used.length === 1) return rotate90All(x, used[0]!);
  return tf.tidy(() => {
    // All used rotations of the whole batch, then one gather picks each sample's own.
    const all = tf.concat(used.map((k) => rotate90All(x, k)));
    const idx = norm.map((k, i) => used.indexOf(k) * b + i);
    return tf.gather(all, tf.tensor1d(idx, "int32"));
  });
}

export const rotate90 = defineAugmentation({
  name: "rotate90",
  description: "Rotate each image by a random multiple of 90 degrees (k drawn from `ks`)",
  options: rotate90Options,
  create(opts) {
    return {
      name: "rotate90",
      apply(x, rng) {
        const [b] = imageShape(x, "rotate90");
        const ks = Array.from({ length: b }, () => opts.ks[rng.int(opts.ks.length)]!);
        return rotate90By(x, ks);
      },
    };
  },
});
