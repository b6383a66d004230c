/**
 * Recommended pipelines, as plain config data (the same shape a YAML config holds), so a method's
 * `defaultAugmentation` or a user's config can start from them and change one field.
 */
import type { AugmentationConfig, InputSpec } from "../plugin/types.js";

/**
 * SimCLR's augmentation recipe (Chen et al. 2020, https://arxiv.org/abs/2002.05709, appendix A):
 * random resized crop (scale 0.08-1) + horizontal flip, colour jitter 0.4/0.4/0.4/0.1 with p = 0.8
 * (the strength-0.5 setting used for CIFAR and by MoCo v2), grayscale with p = 0.2, and gaussian
 * blur (sigma 0.1-2, p = 0.5). SimCLR drops the blur for 32x32 CIFAR; `defaultPipelineFor` keeps it
 * only for images of at least 64 px.
 */
export const SIMCLR_RGB_PIPELINE: readonly AugmentationConfig[] = Object.freeze([
  { name: "random-resized-crop", options: { scale: [0.08, 1], ratio: [3 / 4, 4 / 3] } },
  { name: "horizontal-flip", options: { p: 0.5 } },
  { name: "color-jitter", options: { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 } },
  { name: "grayscale", options: { p: 0.2 } },
  { name: "gaussian-blur", options: { sigma: [0.1, 2.0], p: 0.5 } },
]);

/**
 * For 28x28 handwritten digits (MNIST): gentle crops (scale 0.5-1; smaller ones lose the digit),
 * a small affine warp (±10°, ±10% shift, 0.9-1.1 zoom), a little brightness/contrast change and
 * pixel noise. No flip and no 90° rotation: they change what a digit means (2 vs 5, 6 vs 9).
 */
export const DIGITS_PIPELINE: readonly AugmentationConfig[] = Object.freeze([
  { name: "random-resized-crop", options: { scale: [0.5, 1], ratio: [3 / 4, 4 / 3] } },
  { name: "affine", options: { degrees: 10, translate: 0.1, scale: [0.9, 1.1] } },
  { name: "color-jitter", options: { brightness: 0.3, contrast: 0.3, p: 0.5 } },
  { name: "noise", options: { std: 0.05 } },
]);

/** A crop-and-flip baseline for inputs that are neither gray nor RGB. */
export const CROP_FLIP_PIPELINE: readonly AugmentationConfig[] = Object.freeze([
  { name: "random-resized-crop", options: { scale: [0.2, 1] } },
  { name: "horizontal-flip", options: { p: 0.5 } },
]);

/** Smallest image side at which the SimCLR pipeline keeps its gaussian blur. */
export const BLUR_MIN_SIZE = 64;

/**
 * The pipeline to use when a config names none: digits-style for 1-channel images, SimCLR for RGB
 * (with blur from 64 px), crop + flip otherwise, nothing for text.
 */
export function defaultPipelineFor(input: InputSpec): AugmentationConfig[] {
  const copy = (steps: readonly AugmentationConfig[]) =>
    steps.map((s) => ({ name: s.name, options: { ...s.options } }));
  if (input.kind !== "image") return [];
  if (input.channels === 1) return copy(DIGITS_PIPELINE);
  if (input.channels === 3) {
    const steps = copy(SIMCLR_RGB_PIPELINE);
    return Math.min(input.height, input.width) >= BLUR_MIN_SIZE
      ? steps
      : steps.filter((s) => s.name !== "gaussian-blur");
  }
  return copy(CROP_FLIP_PIPELINE);
}
