/**
 * Autoencoder and denoising autoencoder: reconstruct the clean image from the backbone's features
 * of a (possibly corrupted) copy; the backbone is the representation.
 *
 * Vincent, Larochelle, Bengio, Manzagol, "Extracting and Composing Robust Features with Denoising
 * Autoencoders", ICML 2008. https://doi.org/10.1145/1390156.1390294
 *
 *   x~ = corrupt(x)          none | gaussian: x + N(0, s²) clipped to [0,1]
 *                                 | masking: each pixel set to 0 with probability p (the paper's
 *                                   "masking noise")
 *   x^ = d(f(x~))            f: the run's backbone (global-pooled vector), d: a conv decoder
 *   loss = mean (x^ - x)²
 *
 * Without corruption the network can learn something close to an identity through the bottleneck;
 * corruption makes it model the data (the paper's argument), so masking is the default here.
 * `reconstructionPreview` draws input / corrupted / output rows as a PNG.
 */
import path from "node:path";
import {
  type Dataset,
  defaultBackboneFor,
  defineMethod,
  type MethodArtifact,
  MethodBase,
  Rng,
  renderViewsGrid,
  type StepContext,
  type StepResult,
  type TrainBatch,
  tf,
  writeFileAtomic,
} from "@selfsup/core";
import { z } from "zod";
import { ConvDecoder } from "../decoder.js";

export const autoencoderMethodOptions = z.object({
  corruption: z
    .enum(["none", "gaussian", "masking"])
    .default("masking")
    .describe("input corruption: none (plain autoencoder), gaussian noise, or masking noise (denoising)"),
  noiseStd: z.number().min(0).default(0.3).describe("std of the gaussian corruption (images in [0,1])"),
  maskRatio: z
    .number()
    .min(0)
    .max(0.95)
    .default(0.3)
    .describe("probability that masking noise zeroes a pixel"),
  decoderChannels: z.number().int().positive().default(32).describe("channels of the conv decoder"),
});
export type AutoencoderOptions = z.output<typeof autoencoderMethodOptions>;

/** The corrupted copy of x [B,H,W,C] in [0,1], drawing its noise from `seed`. */
export function corrupt(x: tf.Tensor, opts: AutoencoderOptions, seed: number): tf.Tensor {
  return tf.tidy(() => {
    switch (opts.corruption) {
      case "gaussian":
        return tf.clipByValue(tf.add(x, tf.randomNormal(x.shape, 0, opts.noiseStd, "float32", seed)), 0, 1);
      case "masking": {
        // one mask per pixel, shared by its channels
        const [b, h, w] = x.shape as [number, number, number, number];
        const keep = tf.cast(
          tf.greaterEqual(tf.randomUniform([b, h, w, 1], 0, 1, "float32", seed), opts.maskRatio),
          "float32",
        );
        return tf.mul(x, keep);
      }
      default:
        return tf.clone(x);
    }
  });
}

export class Autoencoder extends MethodBase<AutoencoderOptions> {
  readonly views = 0;
  readonly backbone = this.addBackbone();
  readonly decoder = this.module("decoder", this.buildDecoder());

  private buildDecoder(): ConvDecoder {
    const input = this.ctx.input;
    if (input.kind !== "image") throw new Error("autoencoder: needs image inputs");
    return new ConvDecoder(
      this.backbone.outputDim,
      input.height,
      input.width,
      input.channels,
      this.options.decoderChannels,
      this.ctx.rng,
    );
  }

  /** `reconstructions.png` (input / corrupted / output rows) of the first test images, as a run artifact. */
  async writeArtifacts(ctx: { dataset: Dataset; dir: string }): Promise<MethodArtifact[]> {
    const { input } = ctx.dataset;
    if (input.kind !== "image") return [];
    const split = ctx.dataset.test ?? ctx.dataset.train;
    const n = Math.min(8, split.size);
    const data = new Float32Array(n * input.height * input.width * input.channels);
    for (let i = 0; i < n; i++) data.set((await split.get(i)).data, i * (data.length / n));
    const x = tf.tensor4d(data, [n, input.height, input.width, input.channels]);
    try {
      const png = this.reconstructionPreview(x, new Rng(0));
      await writeFileAtomic(path.join(ctx.dir, "reconstructions.png"), png);
    } finally {
      x.dispose();
    }
    return [
      { name: "reconstructions.png", mime: "image/png", description: "input / corrupted / reconstruction" },
    ];
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    return ctx.minimize(() => {
      const x = batch.inputs;
      const noisy = corrupt(x, this.options, ctx.rng.seed());
      const recon = this.decoder.forward(this.backbone.forward(noisy));
      const loss = tf.mean(tf.squaredDifference(recon, x)) as tf.Scalar;
      return { loss };
    });
  }

  /**
   * A PNG of reconstructions: one row per image of x [B,H,W,C] with the input, its corrupted copy
   * and the reconstruction (eval mode). A runner can store it as a run artifact, as it does the
   * augmentation preview.
   */
  reconstructionPreview(x: tf.Tensor, rng: Rng): Buffer {
    const wasTraining = this.backbone.training;
    this.backbone.eval();
    this.decoder.eval();
    const rows = tf.tidy(() => {
      const noisy = corrupt(x, this.options, rng.seed());
      const recon = this.decoder.forward(this.backbone.forward(noisy));
      const b = x.shape[0] as number;
      return Array.from({ length: b }, (_, i) =>
        tf.concat([x, noisy, recon].map((t) => tf.slice(t, [i, 0, 0, 0], [1, -1, -1, -1]))),
      );
    });
    this.backbone.train(wasTraining);
    this.decoder.train(wasTraining);
    try {
      return renderViewsGrid(rows);
    } finally {
      for (const r of rows) r.dispose();
    }
  }
}

export const autoencoderMethod = defineMethod({
  name: "autoencoder",
  description:
    "(Denoising) autoencoder: conv decoder reconstructs the clean image from the backbone's features of a corrupted copy, MSE (Vincent et al. 2008)",
  family: "pretext",
  paper: {
    title: "Extracting and Composing Robust Features with Denoising Autoencoders",
    url: "https://doi.org/10.1145/1390156.1390294",
  },
  inputs: ["image"],
  options: autoencoderMethodOptions,
  tinyOptions: { decoderChannels: 8 },
  defaultBackbone: defaultBackboneFor,
  composable: true,
  create: (opts, ctx) => new Autoencoder(opts, ctx),
});
