/**
 * @selfsup/method-pretext: the classic pretext tasks (rotation, jigsaw, relative patch position,
 * colorization, DeepCluster, (denoising) autoencoder) on core's method kit.
 */

export * from "./bench.js";
export * from "./clustering.js";
export * from "./decoder.js";
export * from "./lab.js";
export * from "./losses.js";
export * from "./methods/index.js";
export { default as pretextPlugin, pretextMethods } from "./plugin.js";
export * from "./tile-method.js";
export * from "./tiles.js";
