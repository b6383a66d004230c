import type { AugmentationSpec } from "../plugin/types.js";

export const builtinAugmentations: AugmentationSpec[] = [];
