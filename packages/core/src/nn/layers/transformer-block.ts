import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { type ForwardOptions, Module } from "../module.js";
import { gelu } from "./activations.js";
import { MultiHeadSelfAttention } from "./attention.js";
import { Dropout } from "./dropout.js";
import { LayerNorm } from "./layer-norm.js";
import { Linear } from "./linear.js";

export interface TransformerBlockOptions {
  /** Hidden size of the MLP as a multiple of dim (default 4). */
  mlpRatio?: number;
  /** LayerNorm epsilon (default 1e-6, as timm's ViT). */
  eps?: number;
  /** Dropout after attention and MLP (default 0; self-supervised ViTs train without it). */
  dropout?: number;
  qkvBias?: boolean;
}

/**
 * A pre-norm transformer encoder block, as in ViT (Dosovitskiy et al., 2021,
 * https://arxiv.org/abs/2010.11929) and GPT-2:
 *
 *   x = x + Attn(LN(x));   x = x + MLP(LN(x)),   MLP = Linear(d, r·d) -> GELU -> Linear(r·d, d)
 *
 * Normalising inside the residual branch (rather than after the sum, as the original Transformer)
 * keeps an identity path from input to output, which is what lets deep stacks train without
 * learning-rate warm-up tricks (Xiong et al., 2020). `forward(x, { mask })` passes a key-padding
 * mask [B, T] to the attention. The dropout needs an Rng, which is forked from the init one.
 */
export class TransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: MultiHeadSelfAttention;
  readonly norm2: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly drop: Dropout;
  private readonly options: Required<TransformerBlockOptions>;

  constructor(
    readonly dim: number,
    readonly heads: number,
    rng: Rng,
    opts: TransformerBlockOptions = {},
  ) {
    super();
    this.options = {
      mlpRatio: opts.mlpRatio ?? 4,
      eps: opts.eps ?? 1e-6,
      dropout: opts.dropout ?? 0,
      qkvBias: opts.qkvBias ?? true,
    };
    const hidden = Math.round(dim * this.options.mlpRatio);
    this.norm1 = this.addModule("norm1", new LayerNorm(dim, { eps: this.options.eps }));
    this.attn = this.addModule(
      "attn",
      new MultiHeadSelfAttention(dim, heads, rng, { qkvBias: this.options.qkvBias }),
    );
    this.norm2 = this.addModule("norm2", new LayerNorm(dim, { eps: this.options.eps }));
    this.fc1 = this.addModule("fc1", new Linear(dim, hidden, rng, { init: "xavier" }));
    this.fc2 = this.addModule("fc2", new Linear(hidden, dim, rng, { init: "xavier" }));
    this.drop = this.addModule("drop", new Dropout(this.options.dropout, rng.fork()));
  }

  forward(x: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const a = this.drop.forward(this.attn.forward(this.norm1.forward(x), { mask: opts.mask }));
      const h = tf.add(x, a);
      const m = this.drop.forward(this.fc2.forward(gelu(this.fc1.forward(this.norm2.forward(h)))));
      return tf.add(h, m);
    });
  }

  protected recreate(): TransformerBlock {
    return new TransformerBlock(this.dim, this.heads, new Rng(0), this.options);
  }
}
