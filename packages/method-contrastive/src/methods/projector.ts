import type { FeatureModule, MethodBuildContext } from "@selfsup/core";

/** An MLP head as the joint-embedding papers describe theirs. */
export interface MlpSpec {
  /** Widths of the hidden layers (each Linear -> [BatchNorm] -> ReLU). */
  hiddenDims: number[];
  outputDim: number;
  /** BatchNorm after each hidden Linear (SimCLR, BYOL, SimSiam, Barlow Twins, VICReg; not MoCo v2). */
  batchNorm: boolean;
  /** BatchNorm on the output too (SimSiam's projector). */
  outputBatchNorm?: boolean;
}

/** Builds a projector or predictor through core's registered "mlp" head. */
export function buildMlp(ctx: MethodBuildContext, inputDim: number, spec: MlpSpec): FeatureModule {
  return ctx.buildHead(
    "mlp",
    {
      hiddenDims: spec.hiddenDims,
      outputDim: spec.outputDim,
      batchNorm: spec.batchNorm,
      outputBatchNorm: spec.outputBatchNorm ?? false,
    },
    inputDim,
  );
}
