import { z } from "zod";
import { defineBackbone } from "../../plugin/define-plugin.js";
import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { adaptivePool2d } from "../layers/adaptive-pool.js";
import { BatchNorm2d } from "../layers/batch-norm.js";
import { Conv2d } from "../layers/conv2d.js";
import { type FeatureModule, Module } from "../module.js";
import { checkImageBatch, type ImageInput, imageInput } from "./input.js";

export const convNetOptions = z.object({
  /** Channels of the first block; the blocks have width, 2·width, 4·width (default 32 -> 32, 64, 128). */
  width: z.number().int().positive().default(32),
  /** Stride of each 3x3 conv block; its length is the number of blocks (default [2, 2, 2]: 28 -> 14 -> 7 -> 4). */
  strides: z.array(z.number().int().min(1).max(4)).min(1).max(6).default([2, 2, 2]),
  /**
   * How the last feature map becomes a vector: "avg" (average pooling, the SSL default:
   * translation-invariant), "max" (max pooling), each to a `grid` x `grid` of cells, flattened
   * (outputDim = channels·grid²), or "flatten" (the whole map, outputDim = channels·h·w: keeps
   * where each feature fired; a supervised classifier on digits learns much faster with it).
   */
  pool: z.enum(["avg", "max", "flatten"]).default("avg"),
  /**
   * Cells per side of the "avg" / "max" pooling (adaptive, like PyTorch's AdaptiveMaxPool2d;
   * default 1: global pooling). A coarse grid keeps roughly where a feature fired (top/bottom,
   * left/right) in a quarter of the flattened map's dimensions: on the digits' 4x4x128 map, a 2x2
   * max grid (512-d) kept SimCLR's kNN of the full map and lifted its 10-label probe by ~4 points.
   * A grid finer than the last map is capped at the map's smaller side, at build time for
   * `outputDim` and again at each forward: the net is fully convolutional, so a net built for 6x6
   * tiles (jigsaw, relative position: last map 1x1, global pooling, outputDim 128) still runs on
   * whole 28x28 images, where its 4x4 map gives the full grid (512-d for grid 2). That is how the
   * tile methods transfer their trunk.
   */
  grid: z.number().int().positive().default(1),
});
export type ConvNetOptions = z.output<typeof convNetOptions>;

/** conv3x3 (no bias) -> BatchNorm -> ReLU: the unit of VGG-style nets since Ioffe & Szegedy (2015). */
class ConvBlock extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly stride: number,
    rng: Rng,
  ) {
    super();
    this.conv = this.addModule(
      "conv",
      new Conv2d(inChannels, outChannels, rng, { stride, bias: false, init: "kaiming-normal" }),
    );
    this.bn = this.addModule("bn", new BatchNorm2d(outChannels));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.relu(this.bn.forward(this.conv.forward(x))));
  }

  protected recreate(): ConvBlock {
    return new ConvBlock(this.inChannels, this.outChannels, this.stride, new Rng(0));
  }
}

/**
 * A small convnet for 28x28 digits (MNIST-sized inputs; any size works): blocks of
 * conv3x3 -> BN -> ReLU with channels width·2^i, downsampling by stride 2 in every block
 * (cheaper than pooling, and on the wasm backend every conv is the dominant cost: a stride-1
 * first block would make the net ~3x slower for little gain on digits), then global average
 * pooling to a vector of outputDim = width·2^(blocks-1) (128 by default), a pooled grid of
 * cells (`pool: "max", grid: 2`), or the flattened map (`pool: "flatten"`).
 * Input [B, H, W, C] floats, output [B, outputDim].
 */
export class ConvNet extends Module implements FeatureModule {
  readonly outputDim: number;
  /**
   * Cells per side of the pooled grid for the input the net was built for: the `grid` option
   * capped at the last map's smaller side (`outputDim` follows from it).
   */
  readonly grid: number;
  readonly blocks: ConvBlock[] = [];

  constructor(
    readonly options: ConvNetOptions,
    readonly input: ImageInput,
    rng: Rng,
  ) {
    super();
    let channels = input.channels;
    let height = input.height;
    let width = input.width;
    options.strides.forEach((stride, i) => {
      const out = options.width * 2 ** i;
      this.blocks.push(this.addModule(`block${i + 1}`, new ConvBlock(channels, out, stride, rng)));
      channels = out;
      // "same" padding: each block maps a side of n to ceil(n / stride)
      height = Math.ceil(height / stride);
      width = Math.ceil(width / stride);
    });
    this.grid = Math.min(options.grid, height, width);
    this.outputDim =
      options.pool === "flatten" ? channels * height * width : channels * this.grid * this.grid;
  }

  forward(x: tf.Tensor): tf.Tensor {
    checkImageBatch(x, this.input, "convnet");
    return tf.tidy(() => {
      let h = x;
      for (const block of this.blocks) h = block.forward(h);
      const { pool } = this.options;
      // capped at this map, which is larger than the built-for one when the input is (see `grid`)
      const grid = Math.min(this.options.grid, h.shape[1]!, h.shape[2]!);
      if (pool === "flatten") return tf.reshape(h, [h.shape[0]!, -1]);
      if (pool === "avg" && grid === 1) return tf.mean(h, [1, 2]);
      return tf.reshape(adaptivePool2d(h as tf.Tensor4D, grid, pool), [h.shape[0]!, -1]);
    });
  }

  protected recreate(): ConvNet {
    return new ConvNet(this.options, this.input, new Rng(0));
  }
}

export const convNetBackbone = defineBackbone({
  name: "convnet",
  description:
    "Small conv3x3-BN-ReLU network with stride-2 blocks and global average pooling (for 28x28 digits)",
  options: convNetOptions,
  build: (opts, input, rng) => new ConvNet(opts, imageInput(input, "convnet"), rng),
});
