import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { initBias, initWeight, type WeightInit } from "../init.js";
import { Module } from "../module.js";

export interface Conv2dOptions {
  /** Square kernel size (default 3). */
  kernelSize?: number;
  /** Stride in both directions (default 1). */
  stride?: number;
  /**
   * "same" keeps ceil(H/stride) x ceil(W/stride) (TensorFlow's rule, which for odd kernels equals
   * PyTorch's padding = k//2), "valid" uses no padding. Default "same".
   */
  padding?: "same" | "valid";
  /** Learned bias (default true; set false when a BatchNorm follows). */
  bias?: boolean;
  /** Initialisation, see `WeightInit` (default "torch"). */
  init?: WeightInit;
}

/**
 * 2-D convolution over NHWC images ([B,H,W,C], TensorFlow's layout, the fast one on every tfjs
 * backend). Parameters: `weight` [k, k, in, out] (decayed), `bias` [out] (not decayed).
 */
export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;
  private readonly options: Required<Conv2dOptions>;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    rng: Rng,
    opts: Conv2dOptions = {},
  ) {
    super();
    this.options = {
      kernelSize: opts.kernelSize ?? 3,
      stride: opts.stride ?? 1,
      padding: opts.padding ?? "same",
      bias: opts.bias ?? true,
      init: opts.init ?? "torch",
    };
    const k = this.options.kernelSize;
    const fanIn = k * k * inChannels;
    const fanOut = k * k * outChannels;
    this.weight = this.addParameter(
      "weight",
      initWeight([k, k, inChannels, outChannels], fanIn, fanOut, this.options.init, rng),
    );
    this.bias = this.options.bias
      ? this.addParameter("bias", initBias([outChannels], fanIn, this.options.init, rng), { decay: false })
      : undefined;
  }

  get kernelSize(): number {
    return this.options.kernelSize;
  }

  get stride(): number {
    return this.options.stride;
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (x.rank !== 4 || x.shape[3] !== this.inChannels) {
      throw new Error(`Conv2d expects NHWC input [B,H,W,${this.inChannels}], got shape [${x.shape}]`);
    }
    const { stride, padding } = this.options;
    // Without a bias, a plain conv2d: tf.fused.conv2d's gradient is a customGrad that always
    // computes the input gradient too, a whole wasted convolution for a first layer (whose input
    // needs none); conv2d's registered gradient computes only what the tape asks for.
    if (this.bias === undefined)
      return tf.conv2d(x as tf.Tensor4D, this.weight as tf.Tensor4D, stride, padding);
    return tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: this.weight as tf.Tensor4D,
      strides: stride,
      pad: padding,
      bias: this.bias,
    });
  }

  protected recreate(): Conv2d {
    return new Conv2d(this.inChannels, this.outChannels, new Rng(0), this.options);
  }
}
