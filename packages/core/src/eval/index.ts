import type { EvaluatorSpec } from "../plugin/types.js";

export const builtinEvaluators: EvaluatorSpec[] = [];
