/**
 * @selfsup/method-contrastive: joint-embedding self-supervised methods (SimCLR, MoCo v2, BYOL,
 * SimSiam, Barlow Twins, VICReg) and their losses, usable on their own.
 */

export * from "./bench.js";
export * from "./losses/index.js";
export * from "./methods/index.js";
export { contrastiveLosses, contrastiveMethods, default as contrastivePlugin } from "./plugin.js";
