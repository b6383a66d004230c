import { type AugmentationConfig, defaultPipelineFor, type InputSpec } from "@selfsup/core";

/**
 * The augmentation every method of this package recommends: SimCLR's recipe for RGB images (crop,
 * flip, colour jitter, grayscale; blur from 64 px), a digit-safe one for 1-channel images (gentle
 * crops, small affine warp, brightness/contrast, noise, no flip). Both come from core's presets.
 */
export function contrastiveAugmentation(input: InputSpec): AugmentationConfig[] {
  return defaultPipelineFor(input);
}

/** The backbone when the config names none: the small convnet below 32 px, the CIFAR ResNet-18 from 32 px. */
export function defaultImageBackbone(input: InputSpec): { name: string; options?: Record<string, unknown> } {
  if (input.kind === "image" && Math.min(input.height, input.width) >= 32) return { name: "resnet18" };
  return { name: "convnet" };
}
