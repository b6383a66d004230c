import { z } from "zod";
import { defineHead } from "../../plugin/define-plugin.js";
import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { BatchNorm1d } from "../layers/batch-norm.js";
import { Linear } from "../layers/linear.js";
import { type FeatureModule, Module } from "../module.js";

export const predictorHeadOptions = z.object({
  /**
   * Bottleneck width (default 128). SimSiam (Chen & He, 2021) found a bottleneck, 2048 -> 512 ->
   * 2048, works best; BYOL uses 256 -> 4096 -> 256 (a wide hidden layer), also expressible here.
   */
  hiddenDim: z.number().int().positive().default(128),
  /** Output width; null (default) = the input width, as both papers (the predictor maps z to z). */
  outputDim: z.number().int().positive().nullable().default(null),
  /** BatchNorm after the hidden layer (default true, both papers). */
  batchNorm: z.boolean().default(true),
});
export type PredictorHeadOptions = z.output<typeof predictorHeadOptions>;

/**
 * The predictor of BYOL (Grill et al., 2020, https://arxiv.org/abs/2006.07733) and SimSiam
 * (Chen & He, 2021, https://arxiv.org/abs/2011.10566): Linear -> BN -> ReLU -> Linear on the
 * online branch only. The asymmetry it creates (with the stop-gradient or momentum target) is
 * what keeps these methods from collapsing without negatives.
 */
export class PredictorHead extends Module implements FeatureModule {
  readonly outputDim: number;
  readonly fc1: Linear;
  readonly bn: BatchNorm1d | undefined;
  readonly fc2: Linear;

  constructor(
    readonly options: PredictorHeadOptions,
    readonly inputDim: number,
    rng: Rng,
  ) {
    super();
    this.outputDim = options.outputDim ?? inputDim;
    this.fc1 = this.addModule(
      "fc1",
      new Linear(inputDim, options.hiddenDim, rng, { bias: !options.batchNorm }),
    );
    this.bn = options.batchNorm ? this.addModule("bn", new BatchNorm1d(options.hiddenDim)) : undefined;
    this.fc2 = this.addModule("fc2", new Linear(options.hiddenDim, this.outputDim, rng));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      let h = this.fc1.forward(x);
      if (this.bn) h = this.bn.forward(h);
      return this.fc2.forward(tf.relu(h));
    });
  }

  protected recreate(): PredictorHead {
    return new PredictorHead(this.options, this.inputDim, new Rng(0));
  }
}

export const predictorHead = defineHead({
  name: "predictor",
  description: "BYOL/SimSiam predictor: 2-layer MLP with a bottleneck (Linear-BN-ReLU-Linear)",
  options: predictorHeadOptions,
  build: (opts, inputDim, rng) => new PredictorHead(opts, inputDim, rng),
});
