import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { initBias, initWeight, type WeightInit } from "../init.js";
import { Module } from "../module.js";

export interface LinearOptions {
  /** Add a learned bias (default true; leave it out before a BatchNorm, which has its own shift). */
  bias?: boolean;
  /** Initialisation, see `WeightInit` (default "torch": PyTorch's kaiming-uniform with a = √5). */
  init?: WeightInit;
}

/**
 * y = x·W + b over the last axis. Inputs of any rank ≥ 2 ([B,D], [B,T,D], ...) are flattened to
 * [·,D] for one fused matmul (+bias) and reshaped back.
 *
 * Parameters: `weight` [in, out] (decayed), `bias` [out] (not decayed).
 */
export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;
  private readonly options: Required<LinearOptions>;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: Rng,
    opts: LinearOptions = {},
  ) {
    super();
    this.options = { bias: opts.bias ?? true, init: opts.init ?? "torch" };
    const { init } = this.options;
    this.weight = this.addParameter(
      "weight",
      initWeight([inFeatures, outFeatures], inFeatures, outFeatures, init, rng),
    );
    this.bias = this.options.bias
      ? this.addParameter("bias", initBias([outFeatures], inFeatures, init, rng), { decay: false })
      : undefined;
  }

  forward(x: tf.Tensor): tf.Tensor {
    const last = x.shape[x.rank - 1];
    if (last !== this.inFeatures) {
      throw new Error(`Linear expects inputs with last dimension ${this.inFeatures}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const flat = x.rank === 2 ? (x as tf.Tensor2D) : (tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D);
      const y = tf.fused.matMul({ a: flat, b: this.weight as tf.Tensor2D, bias: this.bias });
      return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
    });
  }

  protected recreate(): Linear {
    return new Linear(this.inFeatures, this.outFeatures, new Rng(0), this.options);
  }
}
