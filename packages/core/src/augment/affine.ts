/**
 * Small random affine warps (rotation, translation, scale, shear) per sample: the augmentation
 * classic for handwritten digits (Simard et al. 2003, "Best Practices for Convolutional Neural
 * Networks Applied to Visual Document Analysis"), where crops and colour jitter say little. Each
 * sample's inverse map is built on the JS side and all are applied in one `tf.image.transform`
 * (bilinear, zero fill outside the image).
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import { tf } from "../tf.js";
import { coinFlips, imageShape } from "./util.js";

export const affineOptions = z.object({
  /** Maximum rotation in degrees (uniform in [-degrees, degrees]). */
  degrees: z.number().min(0).max(180).default(10),
  /** Maximum translation as a fraction of width/height (uniform in [-t, t] per axis). */
  translate: z.number().min(0).max(1).default(0.1),
  /** Range of the zoom factor. */
  scale: z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(([a, b]) => a <= b, "the lower bound must not exceed the upper bound")
    .default([0.9, 1.1]),
  /** Maximum shear in degrees along x (uniform in [-shear, shear]). */
  shear: z.number().min(0).max(45).default(0),
  /** Value for pixels mapped from outside the image. */
  fill: z.number().default(0),
  p: z.number().min(0).max(1).default(1),
});

/** Parameters of one warp: output = center + t + s * R(angle) * Shear(shear) * (input - center). */
export interface AffineParams {
  /** Radians, counter-clockwise as seen on screen. */
  angle: number;
  /** Shift in pixels (right, down). */
  tx: number;
  ty: number;
  scale: number;
  /** Radians. */
  shear: number;
}

/**
 * The 8-number projective transform `tf.image.transform` expects (it maps output pixel coordinates
 * to input coordinates, so this is the inverse of the forward warp), for an h x w image.
 */
export function affineToTransform(p: AffineParams, h: number, w: number): number[] {
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const cos = Math.cos(p.angle);
  const sin = Math.sin(p.angle);
  const sh = Math.tan(p.shear);
  // forward linear part M = s * R * [[1, sh], [0, 1]], R = [[cos, sin], [-sin, cos]]: with y
  // pointing down, a positive angle turns the content counter-clockwise on screen (torchvision)
  const m00 = p.scale * cos;
  const m01 = p.scale * (cos * sh + sin);
  const m10 = -p.scale * sin;
  const m11 = p.scale * (cos - sin * sh);
  const det = m00 * m11 - m01 * m10;
  const a0 = m11 / det;
  const a1 = -m01 / det;
  const b0 = -m10 / det;
  const b1 = m00 / det;
  // input = c + Minv * (output - c - t)
  const ox = cx + p.tx;
  const oy = cy + p.ty;
  return [a0, a1, cx - a0 * ox - a1 * oy, b0, b1, cy - b0 * ox - b1 * oy, 0, 0];
}

/** Warps image b of x [B,H,W,C] by params[b]. */
export function affineWarp(x: tf.Tensor, params: AffineParams[], fill = 0): tf.Tensor {
  const [b, h, w] = imageShape(x, "affine");
  if (params.length !== b) throw new Error(`affine: ${params.length} parameter sets for a batch of ${b}`);
  return tf.tidy(() => {
    const flat = params.flatMap((p) => affineToTransform(p, h, w));
    return tf.image.transform(x as tf.Tensor4D, tf.tensor2d(flat, [b, 8]), "bilinear", "constant", fill);
  });
}

const IDENTITY: AffineParams = { angle: 0, tx: 0, ty: 0, scale: 1, shear: 0 };

export const affine = defineAugmentation({
  name: "affine",
  description: "Small random rotation, translation, zoom and shear per sample (for digits)",
  options: affineOptions,
  create(opts) {
    return {
      name: "affine",
      apply(x, rng) {
        const [b, h, w] = imageShape(x, "affine");
        const on = coinFlips(rng, b, opts.p);
        const rad = Math.PI / 180;
        const params = on.map((v): AffineParams => {
          if (!v) return IDENTITY;
          return {
            angle: rng.uniform(-opts.degrees, opts.degrees) * rad,
            tx: rng.uniform(-opts.translate, opts.translate) * w,
            ty: rng.uniform(-opts.translate, opts.translate) * h,
            scale: rng.uniform(opts.scale[0], opts.scale[1]),
            shear: rng.uniform(-opts.shear, opts.shear) * rad,
          };
        });
        if (on.every((v) => v === 0)) return tf.clone(x);
        return affineWarp(x, params, opts.fill);
      },
    };
  },
});
