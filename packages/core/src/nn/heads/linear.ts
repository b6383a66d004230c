import { z } from "zod";
import { defineHead } from "../../plugin/define-plugin.js";
import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { BatchNorm1d } from "../layers/batch-norm.js";
import { Linear } from "../layers/linear.js";
import { type FeatureModule, Module } from "../module.js";

export const linearHeadOptions = z.object({
  /** Number of outputs, e.g. classes (default 10). */
  outputDim: z.number().int().positive().default(10),
  /**
   * A BatchNorm without scale/shift before the classifier (default false). MAE's linear probe
   * uses one because ViT features are badly scaled for a linear classifier (He et al., 2022, §A.2).
   */
  batchNorm: z.boolean().default(false),
});
export type LinearHeadOptions = z.output<typeof linearHeadOptions>;

/** A linear classifier on frozen or fine-tuned features: [B, inputDim] -> logits [B, outputDim]. */
export class LinearHead extends Module implements FeatureModule {
  readonly outputDim: number;
  readonly bn: BatchNorm1d | undefined;
  readonly fc: Linear;

  constructor(
    readonly options: LinearHeadOptions,
    readonly inputDim: number,
    rng: Rng,
  ) {
    super();
    this.outputDim = options.outputDim;
    this.bn = options.batchNorm
      ? this.addModule("bn", new BatchNorm1d(inputDim, { affine: false }))
      : undefined;
    this.fc = this.addModule("fc", new Linear(inputDim, options.outputDim, rng));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc.forward(this.bn ? this.bn.forward(x) : x));
  }

  protected recreate(): LinearHead {
    return new LinearHead(this.options, this.inputDim, new Rng(0));
  }
}

export const linearHead = defineHead({
  name: "linear",
  description: "Linear classifier (optionally after a non-affine BatchNorm, as MAE's linear probe)",
  options: linearHeadOptions,
  build: (opts, inputDim, rng) => new LinearHead(opts, inputDim, rng),
});
