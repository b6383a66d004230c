import type { FeatureModule } from "../nn/module.js";
import type { MethodBuildContext } from "../plugin/types.js";

/** A projector as the joint-embedding papers describe theirs (core's "mlp" head). */
export interface MlpSpec {
  /** Linear layers; every one but the last is followed by [BatchNorm] -> ReLU. */
  layers: number;
  hiddenDim: number;
  outputDim: number;
  /** BatchNorm after each hidden Linear (SimCLR, BYOL, SimSiam, Barlow Twins, VICReg; not MoCo v2). */
  batchNorm: boolean;
  /** BatchNorm (without scale and shift) on the output too: SimSiam's projector. */
  lastBatchNorm?: boolean;
}

/** Builds a projector through core's registered "mlp" head. */
export function buildProjector(ctx: MethodBuildContext, inputDim: number, spec: MlpSpec): FeatureModule {
  return ctx.buildHead(
    "mlp",
    {
      layers: spec.layers,
      hiddenDim: spec.hiddenDim,
      outputDim: spec.outputDim,
      batchNorm: spec.batchNorm,
      lastBatchNorm: spec.lastBatchNorm ?? false,
      lastBatchNormAffine: false,
    },
    inputDim,
  );
}

/**
 * BYOL's and SimSiam's predictor through core's "predictor" head: Linear -> BN -> ReLU -> Linear,
 * mapping a projection back to the same width.
 */
export function buildPredictor(ctx: MethodBuildContext, dim: number, hiddenDim: number): FeatureModule {
  return ctx.buildHead("predictor", { hiddenDim, outputDim: dim, batchNorm: true }, dim);
}

/** A linear classifier head (pretext tasks: rotation, jigsaw, ...): core's "linear" head. */
export function buildClassifier(ctx: MethodBuildContext, inputDim: number, classes: number): FeatureModule {
  return ctx.buildHead("linear", { outputDim: classes }, inputDim);
}
