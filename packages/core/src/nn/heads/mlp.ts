import { z } from "zod";
import { defineHead } from "../../plugin/define-plugin.js";
import { Rng } from "../../rng.js";
import type { tf } from "../../tf.js";
import { ReLU } from "../layers/activations.js";
import { BatchNorm1d } from "../layers/batch-norm.js";
import { Linear } from "../layers/linear.js";
import { Sequential } from "../layers/sequential.js";
import { type FeatureModule, Module } from "../module.js";

export const mlpHeadOptions = z.object({
  /** Number of Linear layers (default 2: SimCLR; BYOL 2, Barlow Twins and VICReg 3). */
  layers: z.number().int().min(1).default(2),
  /** Width of the hidden layers (default 512; the papers use 2048-8192 on ImageNet). */
  hiddenDim: z.number().int().positive().default(512),
  /** Width of the output (default 128, SimCLR's). */
  outputDim: z.number().int().positive().default(128),
  /** BatchNorm after each hidden Linear (default true: SimCLR v2, BYOL, Barlow Twins, VICReg). */
  batchNorm: z.boolean().default(true),
  /** BatchNorm after the last Linear too (default false; SimSiam and SimCLR v2 use one). */
  lastBatchNorm: z.boolean().default(false),
  /** Whether that last BatchNorm learns a scale and shift (default false, as SimSiam's projector). */
  lastBatchNormAffine: z.boolean().default(false),
});
export type MLPHeadOptions = z.output<typeof mlpHeadOptions>;

/**
 * The projection head of contrastive and redundancy-reduction methods: [Linear -> (BN) -> ReLU]
 * x (layers-1), then Linear (-> BN). SimCLR (Chen et al., 2020, https://arxiv.org/abs/2002.05709)
 * showed that the loss is better applied on such a projection than on the representation itself.
 * A Linear followed by a BatchNorm has no bias (the BN's shift replaces it).
 * Input [B, inputDim], output [B, outputDim].
 */
export class MLPHead extends Module implements FeatureModule {
  readonly outputDim: number;
  readonly net: Sequential;

  constructor(
    readonly options: MLPHeadOptions,
    readonly inputDim: number,
    rng: Rng,
  ) {
    super();
    const { layers, hiddenDim, outputDim, batchNorm, lastBatchNorm, lastBatchNormAffine } = options;
    const modules: Module[] = [];
    let width = inputDim;
    for (let i = 0; i < layers - 1; i++) {
      modules.push(new Linear(width, hiddenDim, rng, { bias: !batchNorm }));
      if (batchNorm) modules.push(new BatchNorm1d(hiddenDim));
      modules.push(new ReLU());
      width = hiddenDim;
    }
    modules.push(new Linear(width, outputDim, rng, { bias: !lastBatchNorm }));
    if (lastBatchNorm) modules.push(new BatchNorm1d(outputDim, { affine: lastBatchNormAffine }));
    this.net = this.addModule("net", new Sequential(modules));
    this.outputDim = outputDim;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return this.net.forward(x);
  }

  protected recreate(): MLPHead {
    return new MLPHead(this.options, this.inputDim, new Rng(0));
  }
}

export const mlpHead = defineHead({
  name: "mlp",
  description:
    "MLP projector (Linear-BN-ReLU blocks, optional final BN) as in SimCLR, BYOL, Barlow Twins, VICReg",
  options: mlpHeadOptions,
  build: (opts, inputDim, rng) => new MLPHead(opts, inputDim, rng),
});
