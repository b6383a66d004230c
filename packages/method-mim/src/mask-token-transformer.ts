/**
 * The narrow transformer that MAE's decoder and I-JEPA's predictor both are: a Linear from the
 * encoder's width into its own, a learned mask token and learned position embeddings (truncated
 * normal, std 0.02, no weight decay), `depth` transformer blocks, a LayerNorm and a Linear out.
 * The parameters are made in that order (their initialisation order: the pinned losses hold it)
 * under the names checkpoints use: embed, mask_token, pos_embed, block<i>, norm, and the output's.
 */
import {
  LayerNorm,
  Linear,
  Module,
  type Rng,
  TransformerBlock,
  type tf,
  truncatedNormalInit,
} from "@selfsup/core";

/** The sizes: the encoder's token width and patch count, and the transformer's own width, depth and heads. */
export interface MaskTokenTransformerSize {
  encoderDim: number;
  numPatches: number;
  dim: number;
  depth: number;
  heads: number;
}

/** What differs between MAE's decoder and I-JEPA's predictor. */
export interface MaskTokenTransformerKind {
  /** A position for the class token before the patches' (MAE: [1, 1 + N, dim]; I-JEPA: [N, dim]). */
  classToken: boolean;
  /** The output Linear: its checkpoint name and width. */
  output: { name: string; dim: number };
  /** The options that set `dim` and `heads`, for the error when heads do not divide dim. */
  options: { method: string; dim: string; heads: string };
}

export abstract class MaskTokenTransformer extends Module implements MaskTokenTransformerSize {
  readonly encoderDim: number;
  readonly numPatches: number;
  readonly dim: number;
  readonly depth: number;
  readonly heads: number;
  readonly embed: Linear;
  readonly maskToken: tf.Variable;
  readonly posEmbed: tf.Variable;
  readonly blocks: TransformerBlock[] = [];
  readonly norm: LayerNorm;
  /** The output Linear (MAE's "pred" to pixels, I-JEPA's "proj" back to the encoder's width). */
  readonly out: Linear;

  constructor(size: MaskTokenTransformerSize, kind: MaskTokenTransformerKind, rng: Rng) {
    super();
    const { encoderDim, numPatches, dim, depth, heads } = size;
    const o = kind.options;
    if (dim % heads !== 0)
      throw new Error(`${o.method}: ${o.dim} ${dim} must be divisible by ${o.heads} ${heads}`);
    this.encoderDim = encoderDim;
    this.numPatches = numPatches;
    this.dim = dim;
    this.depth = depth;
    this.heads = heads;
    this.embed = this.addModule("embed", new Linear(encoderDim, dim, rng, { init: "xavier" }));
    this.maskToken = this.addParameter("mask_token", truncatedNormalInit([1, 1, dim], 0.02, rng), {
      decay: false,
    });
    this.posEmbed = this.addParameter(
      "pos_embed",
      truncatedNormalInit(kind.classToken ? [1, 1 + numPatches, dim] : [numPatches, dim], 0.02, rng),
      {
        decay: false,
      },
    );
    for (let i = 0; i < depth; i++)
      this.blocks.push(this.addModule(`block${i}`, new TransformerBlock(dim, heads, rng)));
    this.norm = this.addModule("norm", new LayerNorm(dim, { eps: 1e-6 }));
    this.out = this.addModule(kind.output.name, new Linear(dim, kind.output.dim, rng, { init: "xavier" }));
  }
}
