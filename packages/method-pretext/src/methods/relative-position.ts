/**
 * Relative patch position: given the centre patch of a 3x3 grid and one of its 8 neighbours, say
 * which neighbour it is.
 *
 * Doersch, Gupta, Efros, "Unsupervised Visual Representation Learning by Context Prediction",
 * ICCV 2015. https://arxiv.org/abs/1505.05192
 *
 *   c = centre tile, n = tile at neighbour position j in {0..7} (gap + random jitter per tile)
 *   logits = g([f(c), f(n)])       f: shared tile encoder (the run's backbone built for tiles)
 *   loss = CE(logits, j)
 *
 * Gaps and jitter stop the network from continuing lines across patch borders. On RGB inputs,
 * colour dropping (the paper's guard against chromatic aberration, which otherwise tells a patch's
 * position in the lens from its colour fringes): each patch keeps one random channel and the two
 * others are replaced by faint Gaussian noise. The representation evaluators read is, as the paper
 * transfers it, the tile encoder's trunk run on the whole image (`TileTrunkEncoder`); for a
 * backbone that only runs at the tile size (a ViT), the tile encoder over the image's 9
 * un-jittered tiles, features concatenated (`TileGridEncoder`).
 */
import {
  buildProjector,
  defaultBackboneFor,
  defineMethod,
  type FeatureModule,
  MethodBase,
  type StepContext,
  type StepResult,
  softmaxCrossEntropy,
  type TrainBatch,
  tf,
} from "@selfsup/core";
import { z } from "zod";
import { accuracy } from "../losses.js";
import {
  cutTiles,
  normalizeTiles,
  tileGeometry,
  tileMethodEncoder,
  tileOrigin,
  tileRepresentationOption,
} from "../tiles.js";
import { imageInput, tileInput } from "./jigsaw.js";

export const relativePositionMethodOptions = z.object({
  gap: z.number().int().min(0).default(2).describe("minimum pixels between neighbouring patches"),
  jitter: z
    .number()
    .int()
    .min(0)
    .default(1)
    .describe("maximum random shift of a patch in its cell, in pixels"),
  representation: tileRepresentationOption,
  normalizeTiles: z.boolean().default(true).describe("normalise each patch to zero mean and unit variance"),
  colorDropping: z
    .boolean()
    .default(true)
    .describe("RGB only: keep one random channel per patch, replace the others by noise (the paper's guard)"),
  headHiddenDim: z.number().int().positive().default(256).describe("hidden width of the position classifier"),
});
export type RelativePositionOptions = z.output<typeof relativePositionMethodOptions>;

const GRID = 3;
const CENTRE = 4;
/** Grid positions of the 8 neighbours (row-major, centre left out): label j is NEIGHBOURS[j]. */
export const NEIGHBOURS = [0, 1, 2, 3, 5, 6, 7, 8] as const;

/** Colour dropping of patches [N,t,t,3]: one kept channel per patch, noise of std `std` elsewhere. */
export function dropColors(patches: tf.Tensor, keep: number[], seed: number, std = 0.01): tf.Tensor {
  return tf.tidy(() => {
    const mask = tf.reshape(tf.oneHot(tf.tensor1d(keep, "int32"), 3), [keep.length, 1, 1, 3]);
    const noise = tf.randomNormal(patches.shape, 0, std, "float32", seed);
    return tf.add(tf.mul(patches, mask), tf.mul(noise, tf.sub(1, mask)));
  });
}

export class RelativePosition extends MethodBase<RelativePositionOptions> {
  readonly views = 0;
  readonly geometry = tileGeometry(
    imageInput(this.ctx.input, "relative-position").height,
    imageInput(this.ctx.input, "relative-position").width,
    { grid: GRID, gap: this.options.gap, jitter: this.options.jitter },
    "relative-position",
  );
  readonly backbone = this.module(
    "backbone",
    this.ctx.buildBackbone(undefined, undefined, tileInput(this.ctx.input, this.geometry.tile)),
  );
  readonly head = this.module(
    "head",
    buildProjector(this.ctx, 2 * this.backbone.outputDim, {
      layers: 2,
      hiddenDim: this.options.headHiddenDim,
      outputDim: NEIGHBOURS.length,
      batchNorm: true,
    }),
  );
  /** What evaluators read: the trunk on whole images, or the tiles' features (`representation`). */
  readonly representation = this.useEncoder(
    tileMethodEncoder(
      this.options,
      this.backbone,
      this.geometry,
      imageInput(this.ctx.input, "relative-position").channels,
      "relative-position",
    ),
  );

  private useEncoder(e: FeatureModule): FeatureModule {
    this.setEncoder(e);
    return e;
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    return ctx.minimize(() => {
      const x = batch.inputs;
      const [b, , , c] = x.shape as [number, number, number, number];
      const labels: number[] = [];
      const origins = Array.from({ length: b }, () => {
        const j = ctx.rng.int(NEIGHBOURS.length);
        labels.push(j);
        return [
          tileOrigin(this.geometry, CENTRE, ctx.rng),
          tileOrigin(this.geometry, NEIGHBOURS[j] as number, ctx.rng),
        ];
      });
      const t = this.geometry.tile;
      let patches: tf.Tensor = tf.reshape(cutTiles(x, this.geometry, origins), [b * 2, t, t, c]);
      if (c === 3 && this.options.colorDropping) {
        const keep = Array.from({ length: b * 2 }, () => ctx.rng.int(3));
        patches = dropColors(patches, keep, ctx.rng.seed());
      }
      if (this.options.normalizeTiles) patches = normalizeTiles(patches);
      const features = tf.reshape(this.backbone.forward(patches), [b, 2 * this.backbone.outputDim]);
      const logits = this.head.forward(features);
      const y = tf.tensor1d(labels, "int32");
      return { loss: softmaxCrossEntropy(logits, y), metrics: { accuracy: accuracy(logits, y) } };
    });
  }
}

export const relativePositionMethod = defineMethod({
  name: "relative-position",
  description:
    "Relative patch position: centre patch + one of its 8 neighbours (gap, jitter, colour dropping on RGB), 8-way classification (Doersch et al. 2015)",
  family: "pretext",
  paper: {
    title: "Unsupervised Visual Representation Learning by Context Prediction",
    url: "https://arxiv.org/abs/1505.05192",
  },
  inputs: ["image"],
  options: relativePositionMethodOptions,
  tinyOptions: { gap: 1, jitter: 0, headHiddenDim: 16 },
  defaultBackbone: defaultBackboneFor,
  composable: true,
  create: (opts, ctx) => new RelativePosition(opts, ctx),
});
