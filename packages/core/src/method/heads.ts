import type { MLPHeadOptions } from "../nn/heads/mlp.js";
import type { FeatureModule } from "../nn/module.js";
import type { MethodBuildContext } from "../plugin/types.js";

/** A projector as the joint-embedding papers describe theirs (core's "mlp" head). */
/**
 * A projector as a method asks for it: the "mlp" head's options (`mlpHeadOptions`, where their
 * meaning and defaults live) with layers, widths and BatchNorm said, the output BatchNorm optional
 * (SimSiam's, without scale and shift).
 */
export type MlpSpec = Pick<MLPHeadOptions, "layers" | "hiddenDim" | "outputDim" | "batchNorm"> &
  Partial<Pick<MLPHeadOptions, "lastBatchNorm">>;

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
    } satisfies MLPHeadOptions,
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
