import type { BackboneSpec, HeadSpec } from "../plugin/types.js";

export const builtinBackbones: BackboneSpec[] = [];
export const builtinHeads: HeadSpec[] = [];
