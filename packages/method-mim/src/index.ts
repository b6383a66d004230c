/** @selfsup/method-mim: masked modelling methods (MAE, SimMIM, BEiT and its tokenizer, I-JEPA, MLM). */
export * from "./corpus.js";
export * from "./learned-token.js";
export * from "./masked-loss.js";
export * from "./methods/index.js";
export * from "./mlm-masking.js";
export * from "./patch-tokenizer.js";
export * from "./pictures.js";
export { default as mimPlugin, mimMethods } from "./plugin.js";
export * from "./tokenizer-checkpoint.js";
export * from "./vit-backbone.js";
export * from "./vq.js";
