/**
 * Augmentations: seeded, batched ops on image batches [B,H,W,C] in [0,1]; patch ops and mask
 * generators for masked image modelling; pipelines built from config steps; recommended
 * pipelines; and PNG previews of the views.
 */
export * from "./affine.js";
export * from "./builtins.js";
export * from "./color-jitter.js";
export * from "./gaussian-blur.js";
export * from "./grayscale.js";
export * from "./horizontal-flip.js";
export * from "./jigsaw.js";
export * from "./masks.js";
export * from "./multi-block.js";
export * from "./multi-crop.js";
export * from "./noise.js";
export * from "./normalize.js";
export * from "./patches.js";
export * from "./pipeline.js";
export * from "./presets.js";
export * from "./preview.js";
export * from "./random-resized-crop.js";
export * from "./rotate90.js";
export * from "./seeded-normal.js";
export * from "./solarize.js";
export * from "./tiles.js";
export { coinFlips, imageShape, LUMA_WEIGHTS, luma, selectPerSample } from "./util.js";
