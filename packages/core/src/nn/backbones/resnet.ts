import { z } from "zod";
import { defineBackbone } from "../../plugin/define-plugin.js";
import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { BatchNorm2d } from "../layers/batch-norm.js";
import { Conv2d } from "../layers/conv2d.js";
import { type FeatureModule, Module } from "../module.js";
import { type Recomputable, type RecomputeMode, recomputedSegment } from "../recompute.js";
import { checkImageBatch, type ImageInput, imageInput } from "./input.js";

export const resNetOptions = z.object({
  /**
   * Width multiplier: stage channels are round(64·width), round(128·width), round(256·width),
   * round(512·width) (default 1, the standard ResNet-18; tests use 1/8).
   */
  width: z.number().positive().max(8).default(1),
  /** BasicBlocks per stage (default [2, 2, 2, 2] = ResNet-18; [3, 4, 6, 3] gives ResNet-34). */
  layers: z.array(z.number().int().min(1)).length(4).default([2, 2, 2, 2]),
  /**
   * Initialise the last BN scale of every residual branch to 0, so each block starts as the
   * identity (Goyal et al., 2017, "Accurate, Large Minibatch SGD"). Default false (torchvision's default).
   */
  zeroInitResidual: z.boolean().default(false),
  /**
   * Activation recomputation (gradient checkpointing) per residual block: "auto" turns it on
   * where a plain step would not fit the backend's memory (the wasm pre-flight check decides),
   * "always" / "never" force it. Same outputs, gradients and BatchNorm statistics; about 1/3
   * more compute per step.
   */
  recompute: z
    .enum(["auto", "always", "never"])
    .default("auto")
    .describe(
      "activation recomputation per residual block: auto (when a step would not fit the wasm heap), always, never",
    ),
});
export type ResNetOptions = z.output<typeof resNetOptions>;

/**
 * The ResNet basic block (He et al., 2016, "Deep Residual Learning for Image Recognition",
 * https://arxiv.org/abs/1512.03385): conv3x3-BN-ReLU-conv3x3-BN plus a shortcut, then ReLU. The
 * shortcut is the identity, or a 1x1 strided conv + BN ("option B") when the shape changes.
 */
export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly shortcut: { conv: Conv2d; bn: BatchNorm2d } | undefined;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly stride: number,
    rng: Rng,
    private readonly zeroInitResidual = false,
  ) {
    super();
    const conv = { bias: false, init: "kaiming-normal" } as const;
    this.conv1 = this.addModule("conv1", new Conv2d(inChannels, outChannels, rng, { ...conv, stride }));
    this.bn1 = this.addModule("bn1", new BatchNorm2d(outChannels));
    this.conv2 = this.addModule("conv2", new Conv2d(outChannels, outChannels, rng, conv));
    this.bn2 = this.addModule("bn2", new BatchNorm2d(outChannels));
    if (zeroInitResidual) this.bn2.weight?.assign(tf.zerosLike(this.bn2.weight));
    if (stride !== 1 || inChannels !== outChannels) {
      this.shortcut = {
        conv: this.addModule(
          "shortcut_conv",
          new Conv2d(inChannels, outChannels, rng, { ...conv, kernelSize: 1, stride }),
        ),
        bn: this.addModule("shortcut_bn", new BatchNorm2d(outChannels)),
      };
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h = tf.relu(this.bn1.forward(this.conv1.forward(x)));
      const branch = this.bn2.forward(this.conv2.forward(h));
      const skip = this.shortcut ? this.shortcut.bn.forward(this.shortcut.conv.forward(x)) : x;
      return tf.relu(tf.add(branch, skip));
    });
  }

  protected recreate(): BasicBlock {
    return new BasicBlock(this.inChannels, this.outChannels, this.stride, new Rng(0), this.zeroInitResidual);
  }
}

/**
 * ResNet-18 with the CIFAR stem (He et al., 2016, §4.2; as in SimCLR's and solo-learn's CIFAR
 * runs): a single 3x3 stride-1 conv and no max-pool, because the ImageNet stem (7x7 stride 2 +
 * max-pool) would shrink a 32x32 image to 8x8 before the first block. Four stages of BasicBlocks
 * at strides 1, 2, 2, 2, then global average pooling: outputDim = round(512·width).
 * Input [B, H, W, C] (any H, W), output [B, outputDim].
 */
export class ResNet extends Module implements FeatureModule, Recomputable {
  readonly outputDim: number;
  readonly recomputeMode: RecomputeMode;
  #autoRecompute = false;
  readonly stem: Conv2d;
  readonly stemBn: BatchNorm2d;
  readonly blocks: BasicBlock[] = [];

  constructor(
    readonly options: ResNetOptions,
    readonly input: ImageInput,
    rng: Rng,
  ) {
    super();
    this.recomputeMode = options.recompute;
    const channels = [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * options.width)));
    const c0 = channels[0] as number;
    this.stem = this.addModule(
      "stem",
      new Conv2d(input.channels, c0, rng, { bias: false, init: "kaiming-normal" }),
    );
    this.stemBn = this.addModule("stem_bn", new BatchNorm2d(c0));
    let inC = c0;
    options.layers.forEach((count, stage) => {
      const outC = channels[stage] as number;
      for (let i = 0; i < count; i++) {
        const stride = stage > 0 && i === 0 ? 2 : 1;
        const block = new BasicBlock(inC, outC, stride, rng, options.zeroInitResidual);
        this.blocks.push(this.addModule(`layer${stage + 1}_${i}`, block));
        inC = outC;
      }
    });
    this.outputDim = inC;
  }

  forward(x: tf.Tensor): tf.Tensor {
    checkImageBatch(x, this.input, "resnet18");
    return tf.tidy(() => {
      const stem = (t: tf.Tensor) => tf.relu(this.stemBn.forward(this.stem.forward(t)));
      if (!(this.training && this.recomputeActive)) {
        let h = stem(x);
        for (const block of this.blocks) h = block.forward(h);
        return tf.mean(h, [1, 2]);
      }
      // One segment for the stem, one per block: see docs/architecture.md for why not per stage.
      const stemVars = [...this.stem.trainableVariables(), ...this.stemBn.trainableVariables()];
      let h = recomputedSegment(x, stemVars, stem);
      for (const block of this.blocks)
        h = recomputedSegment(h, block.trainableVariables(), (t) => block.forward(t));
      return tf.mean(h, [1, 2]);
    });
  }

  get recomputeActive(): boolean {
    return this.recomputeMode === "always" || (this.recomputeMode === "auto" && this.#autoRecompute);
  }

  setAutoRecompute(on: boolean): void {
    this.#autoRecompute = on;
  }

  protected recreate(): ResNet {
    return new ResNet(this.options, this.input, new Rng(0));
  }
}

export const resNet18Backbone = defineBackbone({
  name: "resnet18",
  description:
    "ResNet-18 (He et al. 2016) with the CIFAR stem (3x3 conv, no max-pool) and a width multiplier",
  options: resNetOptions,
  build: (opts, input, rng) => new ResNet(opts, imageInput(input, "resnet18"), rng),
});
