/**
 * Multi-crop (SwAV, Caron et al. 2020, section 3.2): besides the two full-resolution views, V
 * small crops (5-14% of the image at 96 px against 224 px on ImageNet) that add views cheaply.
 * Here a "local-crop" augmentation: each sample gets a random crop of `scale` of its area, resized
 * to `size` (default: the input size, which any backbone accepts; a backbone with global pooling
 * can take smaller local views, e.g. size [14, 14] for 28 px digits). Boxes come from the rng,
 * so the same seed gives the same crops.
 */
import { defineAugmentation, type Rng, sampleCropBox, tf } from "@selfsup/core";
import { z } from "zod";

export const localCropOptions = z.object({
  scale: z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(([a, b]) => a <= b && b <= 1, "scale is [lo, hi] with lo <= hi <= 1")
    .default([0.14, 0.4]),
  size: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
});

export function localCrops(x: tf.Tensor, rng: Rng, opts: z.output<typeof localCropOptions>): tf.Tensor4D {
  const [b, h, w] = x.shape as [number, number, number, number];
  const boxes: number[] = [];
  for (let i = 0; i < b; i++) {
    const c = sampleCropBox(rng, h, w, opts.scale, [3 / 4, 4 / 3]);
    boxes.push(
      c.top / (h - 1),
      c.left / (w - 1),
      (c.top + c.height - 1) / (h - 1),
      (c.left + c.width - 1) / (w - 1),
    );
  }
  return tf.tidy(() =>
    tf.image.cropAndResize(
      x as tf.Tensor4D,
      tf.tensor2d(boxes, [b, 4]),
      tf.range(0, b, 1, "int32") as tf.Tensor1D,
      opts.size ?? [h, w],
    ),
  );
}

export const localCrop = defineAugmentation({
  name: "local-crop",
  description:
    "SwAV multi-crop's small crop: a random crop of 14-40% of the area, resized (Caron et al. 2020)",
  options: localCropOptions,
  create: (opts) => ({ name: "local-crop", apply: (x, rng) => localCrops(x, rng, opts) }),
});
