import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import type { WeightInit } from "../init.js";
import { type ForwardOptions, Module } from "../module.js";
import { Linear } from "./linear.js";

export interface MultiHeadSelfAttentionOptions {
  /** Bias on the query/key/value projection (default true, as ViT). */
  qkvBias?: boolean;
  /** Initialisation of the two linear layers (default "xavier", as timm/MAE). */
  init?: WeightInit;
}

/**
 * Multi-head scaled dot-product self-attention (Vaswani et al., 2017,
 * https://arxiv.org/abs/1706.03762): softmax(Q·Kᵀ/√d_head)·V per head, heads concatenated and
 * projected. Input and output [B, T, dim].
 *
 * `forward(x, { mask })` takes an optional key-padding mask [B, T] (1 = padding): those keys get
 * no attention from any query (their logits are pushed to -1e9), so padded text positions do not
 * leak into real ones. At least one key per sample must be unmasked.
 */
export class MultiHeadSelfAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  private readonly options: Required<MultiHeadSelfAttentionOptions>;

  constructor(
    readonly dim: number,
    readonly heads: number,
    rng: Rng,
    opts: MultiHeadSelfAttentionOptions = {},
  ) {
    super();
    if (dim % heads !== 0) throw new Error(`attention dim ${dim} is not divisible by ${heads} heads`);
    this.options = { qkvBias: opts.qkvBias ?? true, init: opts.init ?? "xavier" };
    this.headDim = dim / heads;
    this.qkv = this.addModule(
      "qkv",
      new Linear(dim, 3 * dim, rng, { bias: this.options.qkvBias, init: this.options.init }),
    );
    this.proj = this.addModule("proj", new Linear(dim, dim, rng, { init: this.options.init }));
  }

  forward(x: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.dim) {
      throw new Error(`MultiHeadSelfAttention expects [B, T, ${this.dim}], got shape [${x.shape}]`);
    }
    const [b, t] = x.shape as [number, number, number];
    const { heads, headDim } = this;
    return tf.tidy(() => {
      // [B,T,3·D] -> [3, B, heads, T, headDim] -> three [B·heads, T, headDim]
      const qkv = tf.transpose(tf.reshape(this.qkv.forward(x), [b, t, 3, heads, headDim]), [2, 0, 3, 1, 4]);
      const [q, k, v] = tf.unstack(qkv, 0).map((z) => tf.reshape(z, [b * heads, t, headDim])) as [
        tf.Tensor3D,
        tf.Tensor3D,
        tf.Tensor3D,
      ];
      let logits: tf.Tensor3D = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim)); // [B·heads, T, T]
      if (opts.mask) {
        if (!(opts.mask.rank === 2 && opts.mask.shape[0] === b && opts.mask.shape[1] === t)) {
          throw new Error(`attention key mask must be [${b}, ${t}], got [${opts.mask.shape}]`);
        }
        const penalty = tf.reshape(tf.mul(tf.cast(opts.mask, "float32"), -1e9), [b, 1, 1, t]);
        logits = tf.reshape(tf.add(tf.reshape(logits, [b, heads, t, t]), penalty), [b * heads, t, t]);
      }
      const out = tf.matMul(tf.softmax(logits), v); // [B·heads, T, headDim]
      const merged = tf.reshape(tf.transpose(tf.reshape(out, [b, heads, t, headDim]), [0, 2, 1, 3]), [
        b,
        t,
        this.dim,
      ]);
      return this.proj.forward(merged);
    });
  }

  protected recreate(): MultiHeadSelfAttention {
    return new MultiHeadSelfAttention(this.dim, this.heads, new Rng(0), this.options);
  }
}
