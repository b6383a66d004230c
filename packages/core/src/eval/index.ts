/** Evaluation of learned representations: kNN, linear probe, fine-tuning, few-label protocol, 2-D PCA. */
import type { EvaluatorSpec } from "../plugin/types.js";
import { fewLabelEvaluator, fineTuneEvaluator, knnEvaluator, linearProbeEvaluator } from "./evaluators.js";

export * from "./classifier.js";
export * from "./evaluators.js";
export * from "./features.js";
export * from "./few-label.js";
export * from "./fine-tune.js";
export * from "./knn.js";
export * from "./linear-probe.js";
export * from "./pca.js";

export const builtinEvaluators: EvaluatorSpec[] = [
  knnEvaluator,
  linearProbeEvaluator,
  fineTuneEvaluator,
  fewLabelEvaluator,
];
export * from "./raw-pixels.js";
