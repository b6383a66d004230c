import { tf } from "../../tf.js";
import { onesInit, zerosInit } from "../init.js";
import { Module } from "../module.js";

export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5; ViTs often use 1e-6). */
  eps?: number;
}

/**
 * Layer normalisation (Ba, Kiros & Hinton, 2016, https://arxiv.org/abs/1607.06450) over the last
 * axis: each token/sample is normalised with its own statistics, so it behaves the same in train
 * and eval mode and for any batch size (which is why transformers use it instead of BatchNorm).
 * Parameters `weight` (init 1) and `bias` (init 0), neither weight-decayed.
 */
export class LayerNorm extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  private readonly options: Required<LayerNormOptions>;

  constructor(
    readonly numFeatures: number,
    opts: LayerNormOptions = {},
  ) {
    super();
    this.options = { eps: opts.eps ?? 1e-5 };
    this.weight = this.addParameter("weight", onesInit([numFeatures]), { decay: false });
    this.bias = this.addParameter("bias", zerosInit([numFeatures]), { decay: false });
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (x.shape[x.rank - 1] !== this.numFeatures) {
      throw new Error(`LayerNorm expects a last dimension of ${this.numFeatures}, got shape [${x.shape}]`);
    }
    return tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.options.eps)));
      return tf.add(tf.mul(normed, this.weight), this.bias);
    });
  }

  protected recreate(): LayerNorm {
    return new LayerNorm(this.numFeatures, this.options);
  }
}
