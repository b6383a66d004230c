/**
 * Jigsaw puzzles: say which permutation shuffled the 3x3 tiles of an image.
 *
 * Noroozi & Favaro, "Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles",
 * ECCV 2016. https://arxiv.org/abs/1603.09246
 *
 *   tiles t_1..t_9 of x (3x3 grid, gap + random jitter per tile, each tile normalised on its own)
 *   a permutation p drawn from a fixed set P of |P| permutations (chosen greedily for maximal
 *   minimum Hamming distance; the first is the identity); position i shows tile t_{p(i)}
 *   h_i = f(t_{p(i)})                  f: the shared tile encoder (the run's backbone, built for tiles)
 *   logits = g([h_1, ..., h_9])        g: MLP over the concatenated features, |P| classes
 *   loss = CE(logits, index of p)
 *
 * The gap and jitter keep tiles from being matched by continuing edges; per-tile normalisation
 * keeps them from being matched by brightness. The permutation set is method state: saved with
 * every checkpoint, so a resumed run classifies the same permutations. Tile size adapts to the
 * input: 28x28 digits give 9 px cells and (gap 2, jitter 1) 6 px tiles; 32x32 images 7 px tiles.
 * The representation evaluators read is, as the paper transfers it, the tile encoder's trunk run
 * on the whole image (`TileTrunkEncoder`); for a backbone that only runs at the tile size (a ViT),
 * the tile encoder over the 9 un-jittered tiles, features concatenated (`TileGridEncoder`).
 */
import {
  buildProjector,
  defaultBackboneFor,
  defineMethod,
  type FeatureModule,
  type InputSpec,
  JIGSAW_PERMUTATION_SEED,
  jigsawPermutations,
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

export const jigsawMethodOptions = z.object({
  permutations: z
    .number()
    .int()
    .min(2)
    .max(1000)
    .default(100)
    .describe("size of the permutation set = number of classes (paper: 100 to 1000)"),
  gap: z.number().int().min(0).default(2).describe("minimum pixels between neighbouring tiles"),
  jitter: z
    .number()
    .int()
    .min(0)
    .default(1)
    .describe("maximum random shift of a tile in its cell, in pixels"),
  representation: tileRepresentationOption,
  normalizeTiles: z.boolean().default(true).describe("normalise each tile to zero mean and unit variance"),
  headHiddenDim: z
    .number()
    .int()
    .positive()
    .default(512)
    .describe("hidden width of the permutation classifier"),
});
export type JigsawOptions = z.output<typeof jigsawMethodOptions>;

const GRID = 3;

export class Jigsaw extends MethodBase<JigsawOptions> {
  readonly views = 0;
  readonly geometry = tileGeometry(
    imageInput(this.ctx.input, "jigsaw").height,
    imageInput(this.ctx.input, "jigsaw").width,
    { grid: GRID, gap: this.options.gap, jitter: this.options.jitter },
    "jigsaw",
  );
  /** The tile encoder: the run's backbone built for tile-sized inputs. */
  readonly backbone = this.module(
    "backbone",
    this.ctx.buildBackbone(undefined, undefined, tileInput(this.ctx.input, this.geometry.tile)),
  );
  readonly head = this.module(
    "head",
    buildProjector(this.ctx, GRID * GRID * this.backbone.outputDim, {
      layers: 2,
      hiddenDim: this.options.headHiddenDim,
      outputDim: this.options.permutations,
      batchNorm: true,
    }),
  );
  /** [P, 9] int32: permutation k puts source tile perms[k][i] at position i. */
  readonly perms = this.stateVariable(
    "permutations",
    tf.variable(
      tf.tensor2d(
        jigsawPermutations(this.options.permutations, GRID * GRID, JIGSAW_PERMUTATION_SEED),
        undefined,
        "int32",
      ),
      false,
    ),
  );
  /** What evaluators read: the trunk on whole images, or the tiles' features (`representation`). */
  readonly representation = this.useEncoder(
    tileMethodEncoder(
      this.options,
      this.backbone,
      this.geometry,
      imageInput(this.ctx.input, "jigsaw").channels,
      "jigsaw",
    ),
  );

  private useEncoder(e: FeatureModule): FeatureModule {
    this.setEncoder(e);
    return e;
  }

  /** The permutation set as numbers (read from the state, which a restore may have replaced). */
  permutationSet(): number[][] {
    return this.perms.arraySync() as number[][];
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    return ctx.minimize(() => {
      const x = batch.inputs;
      const b = x.shape[0] as number;
      const perms = this.permutationSet();
      const labels: number[] = [];
      const origins = Array.from({ length: b }, () => {
        const k = ctx.rng.int(perms.length);
        labels.push(k);
        return (perms[k] as number[]).map((src) => tileOrigin(this.geometry, src, ctx.rng));
      });
      const n = GRID * GRID;
      const t = this.geometry.tile;
      let tiles: tf.Tensor = tf.reshape(cutTiles(x, this.geometry, origins), [
        b * n,
        t,
        t,
        x.shape[3] as number,
      ]);
      if (this.options.normalizeTiles) tiles = normalizeTiles(tiles);
      const features = tf.reshape(this.backbone.forward(tiles), [b, n * this.backbone.outputDim]);
      const logits = this.head.forward(features);
      const y = tf.tensor1d(labels, "int32");
      return { loss: softmaxCrossEntropy(logits, y), metrics: { accuracy: accuracy(logits, y) } };
    });
  }
}

export function imageInput(input: InputSpec, method: string): Extract<InputSpec, { kind: "image" }> {
  if (input.kind !== "image") throw new Error(`${method}: needs image inputs, got ${input.kind}`);
  return input;
}

/** The input spec of a `side` x `side` tile of the run's images. */
export function tileInput(input: InputSpec, side: number): InputSpec {
  return { kind: "image", height: side, width: side, channels: imageInput(input, "tiles").channels };
}

export const jigsawMethod = defineMethod({
  name: "jigsaw",
  description:
    "Jigsaw: 3x3 tiles with gap and jitter, shuffled by one of P max-Hamming permutations, shared tile encoder, P-way classifier (Noroozi & Favaro 2016)",
  family: "pretext",
  paper: {
    title: "Unsupervised Learning of Visual Representations by Solving Jigsaw Puzzles",
    url: "https://arxiv.org/abs/1603.09246",
  },
  inputs: ["image"],
  options: jigsawMethodOptions,
  tinyOptions: { permutations: 8, gap: 1, jitter: 0, headHiddenDim: 16 },
  defaultBackbone: defaultBackboneFor,
  composable: true,
  create: (opts, ctx) => new Jigsaw(opts, ctx),
});
