/** The core's built-in augmentations, in the order `selfsup list` shows them. */
import type { AugmentationSpec } from "../plugin/types.js";
import { affine } from "./affine.js";
import { colorJitter } from "./color-jitter.js";
import { gaussianBlur } from "./gaussian-blur.js";
import { grayscale } from "./grayscale.js";
import { horizontalFlip } from "./horizontal-flip.js";
import { jigsaw } from "./jigsaw.js";
import { maskPatches } from "./masks.js";
import { noise } from "./noise.js";
import { normalize } from "./normalize.js";
import { randomResizedCrop } from "./random-resized-crop.js";
import { rotate90 } from "./rotate90.js";
import { solarize } from "./solarize.js";

export const builtinAugmentations: AugmentationSpec[] = [
  randomResizedCrop,
  horizontalFlip,
  colorJitter,
  grayscale,
  gaussianBlur,
  solarize,
  rotate90,
  noise,
  affine,
  normalize,
  jigsaw,
  maskPatches,
];
