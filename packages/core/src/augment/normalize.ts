/**
 * Per-channel standardisation (x - mean) / std, usually the last step of a pipeline. Deterministic:
 * it draws nothing from the rng. Without options it uses the usual statistics for the channel count:
 * ImageNet's for RGB (what pretrained-model recipes expect) and MNIST's (0.1307, 0.3081) for gray.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import { tf } from "../tf.js";
import { imageShape } from "./util.js";

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;
export const MNIST_MEAN = [0.1307] as const;
export const MNIST_STD = [0.3081] as const;

export const normalizeOptions = z.object({
  /** One value per channel (or one for all); default by channel count, see above. */
  mean: z.array(z.number()).min(1).optional(),
  std: z.array(z.number().positive()).min(1).optional(),
});

/** (x - mean) / std with per-channel (or single) statistics. */
export function normalizeImages(x: tf.Tensor, mean: readonly number[], std: readonly number[]): tf.Tensor {
  const [, , , c] = imageShape(x, "normalize");
  for (const [what, v] of [
    ["mean", mean],
    ["std", std],
  ] as const) {
    if (v.length !== 1 && v.length !== c) {
      throw new Error(
        `normalize: ${what} has ${v.length} values but the images have ${c} channels (give 1 or ${c})`,
      );
    }
  }
  return tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d([...mean])), tf.tensor1d([...std])));
}

export const normalize = defineAugmentation({
  name: "normalize",
  description: "Standardise each channel: (x - mean) / std (defaults: ImageNet for RGB, MNIST for gray)",
  options: normalizeOptions,
  create(opts) {
    return {
      name: "normalize",
      apply(x) {
        const [, , , c] = imageShape(x, "normalize");
        const mean = opts.mean ?? (c === 1 ? MNIST_MEAN : c === 3 ? IMAGENET_MEAN : [0.5]);
        const std = opts.std ?? (c === 1 ? MNIST_STD : c === 3 ? IMAGENET_STD : [0.5]);
        return normalizeImages(x, mean, std);
      },
    };
  },
});
