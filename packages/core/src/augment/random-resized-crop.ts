/**
 * Random resized crop: the single most important augmentation of contrastive learning. SimCLR
 * (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual Representations",
 * https://arxiv.org/abs/2002.05709, sec. 3 and fig. 5) found that crop + color distortion is the
 * composition that makes the task hard enough to learn useful features.
 *
 * Each sample gets its own crop box (area fraction in `scale`, aspect ratio log-uniform in `ratio`,
 * sampled exactly as torchvision's `RandomResizedCrop.get_params`: 10 tries, then a center crop),
 * drawn from the rng on the JS side; all boxes are then cut and resized in one batched
 * `tf.image.cropAndResize`.
 *
 * The default scale [0.08, 1] is the ImageNet recipe. For 28x28 digits such small crops often cut
 * the digit away entirely; use `scale: [0.5, 1]` (as DIGITS_PIPELINE does) or [0.3, 1] at most.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import type { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { imageShape } from "./util.js";

const pair = (lo: number, hi: number) =>
  z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(([a, b]) => a <= b, "the lower bound must not exceed the upper bound")
    .default([lo, hi]);

export const randomResizedCropOptions = z.object({
  /** Range of the crop's area as a fraction of the image's area. */
  scale: pair(0.08, 1).refine(([, b]) => b <= 1, "scale is a fraction of the image area, at most 1"),
  /** Range of the crop's aspect ratio (width / height), sampled log-uniformly. */
  ratio: pair(3 / 4, 4 / 3),
  /** Output size [height, width]; default: the input size. */
  size: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
});
export type RandomResizedCropOptions = z.output<typeof randomResizedCropOptions>;

/** One crop box in pixels: rows [top, top+height), columns [left, left+width). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** torchvision's `RandomResizedCrop.get_params` for one image of size h x w. */
export function sampleCropBox(
  rng: Rng,
  h: number,
  w: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): CropBox {
  const area = h * w;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const cw = Math.round(Math.sqrt(target * aspect));
    const ch = Math.round(Math.sqrt(target / aspect));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      return { top: rng.int(h - ch + 1), left: rng.int(w - cw + 1), height: ch, width: cw };
    }
  }
  // Fallback: the whole image, cut to the nearest allowed aspect ratio, centered.
  const inRatio = w / h;
  let cw = w;
  let ch = h;
  if (inRatio < ratio[0]) ch = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) cw = Math.round(h * ratio[1]);
  return { top: Math.floor((h - ch) / 2), left: Math.floor((w - cw) / 2), height: ch, width: cw };
}

/**
 * Crops each image of x [B,H,W,C] to its box and resizes (bilinear) to `size`. Box corners map to
 * pixel centres (align-corners), so a full-image box at the input size is the identity.
 */
export function cropAndResizeBoxes(
  x: tf.Tensor,
  boxes: CropBox[],
  size: readonly [number, number],
): tf.Tensor4D {
  const [b, h, w] = imageShape(x, "cropAndResizeBoxes");
  if (boxes.length !== b) throw new Error(`cropAndResizeBoxes: ${boxes.length} boxes for a batch of ${b}`);
  return tf.tidy(() => {
    const dy = Math.max(h - 1, 1);
    const dx = Math.max(w - 1, 1);
    const flat: number[] = [];
    for (const box of boxes) {
      flat.push(
        box.top / dy,
        box.left / dx,
        (box.top + box.height - 1) / dy,
        (box.left + box.width - 1) / dx,
      );
    }
    const ind = boxes.map((_, i) => i);
    return tf.image.cropAndResize(
      x as tf.Tensor4D,
      tf.tensor2d(flat, [b, 4]),
      tf.tensor1d(ind, "int32"),
      [size[0], size[1]],
      "bilinear",
    );
  });
}

export const randomResizedCrop = defineAugmentation({
  name: "random-resized-crop",
  description: "Random crop (area fraction `scale`, aspect `ratio`) resized back to the input size (SimCLR)",
  options: randomResizedCropOptions,
  create(opts) {
    return {
      name: "random-resized-crop",
      apply(x, rng) {
        const [b, h, w] = imageShape(x, "random-resized-crop");
        const boxes: CropBox[] = [];
        for (let i = 0; i < b; i++) boxes.push(sampleCropBox(rng, h, w, opts.scale, opts.ratio));
        return cropAndResizeBoxes(x, boxes, opts.size ?? [h, w]);
      },
    };
  },
});
