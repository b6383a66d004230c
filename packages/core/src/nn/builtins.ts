/** The backbones and heads @selfsup/core registers, as any plugin would. */
import type { BackboneSpec, HeadSpec } from "../plugin/types.js";
import { convNetBackbone } from "./backbones/convnet.js";
import { lstmBackbone } from "./backbones/lstm.js";
import { resNet18Backbone } from "./backbones/resnet.js";
import { textTransformerBackbone } from "./backbones/text-transformer.js";
import { vitTinyBackbone } from "./backbones/vit.js";
import { linearHead } from "./heads/linear.js";
import { mlpHead } from "./heads/mlp.js";
import { predictorHead } from "./heads/predictor.js";

export const builtinBackbones: BackboneSpec[] = [
  convNetBackbone,
  resNet18Backbone,
  vitTinyBackbone,
  lstmBackbone,
  textTransformerBackbone,
];
export const builtinHeads: HeadSpec[] = [mlpHead, predictorHead, linearHead];
