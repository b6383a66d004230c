import { z } from "zod";
import { defineBackbone } from "../../plugin/define-plugin.js";
import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { truncatedNormalInit } from "../init.js";
import { Embedding } from "../layers/embedding.js";
import { LayerNorm } from "../layers/layer-norm.js";
import { TransformerBlock } from "../layers/transformer-block.js";
import { type FeatureModule, type ForwardOptions, Module } from "../module.js";
import { type TextInput, textInput } from "./input.js";
import { checkTokenBatch, maskedMean, paddingMask } from "./text.js";

export const textTransformerOptions = z.object({
  dim: z.number().int().positive().default(64),
  depth: z.number().int().positive().default(2),
  heads: z.number().int().positive().default(4),
  mlpRatio: z.number().positive().default(4),
  /** Sequence feature: mean of the token features ("mean", default) or a prepended class token ("cls"). */
  pool: z.enum(["mean", "cls"]).default("mean"),
  /** Token id used for padding, or null (default). Padding is masked out of attention and of the mean. */
  padId: z.number().int().min(0).nullable().default(null),
});
export type TextTransformerOptions = z.output<typeof textTransformerOptions>;

/**
 * A tiny transformer encoder over token ids (BERT-style, Devlin et al., 2019, with pre-norm
 * blocks): token embedding + learned position embedding -> transformer blocks -> LayerNorm.
 * Output [B, dim] (masked mean or class token); `{ tokens: true }` gives per-token features
 * [B, T, dim] aligned with the input ids (the class token, if any, is not included) — what a
 * masked-language-modelling head reads.
 *
 * `forward(ids, { mask })` with mask [B, T] (1 = masked) replaces the embeddings of masked
 * positions by a learned [MASK] embedding (`mask_token`), so MLM needs no reserved vocabulary id.
 */
export class TextTransformer extends Module implements FeatureModule {
  readonly outputDim: number;
  readonly dim: number;
  readonly embed: Embedding;
  readonly posEmbed: tf.Variable;
  readonly clsToken: tf.Variable | undefined;
  readonly maskToken: tf.Variable;
  readonly blocks: TransformerBlock[] = [];
  readonly norm: LayerNorm;

  constructor(
    readonly options: TextTransformerOptions,
    readonly input: TextInput,
    rng: Rng,
  ) {
    super();
    const { dim, depth, heads, mlpRatio, pool, padId } = options;
    if (dim % heads !== 0)
      throw new Error(`text-transformer: dim ${dim} must be divisible by heads ${heads}`);
    if (padId !== null && padId >= input.vocabSize) {
      throw new Error(
        `text-transformer: padId ${padId} is outside the vocabulary of ${input.vocabSize} tokens`,
      );
    }
    this.dim = dim;
    this.outputDim = dim;
    this.embed = this.addModule("embed", new Embedding(input.vocabSize, dim, rng, { std: 0.02 }));
    const positions = input.seqLen + (pool === "cls" ? 1 : 0);
    this.posEmbed = this.addParameter("pos_embed", truncatedNormalInit([1, positions, dim], 0.02, rng), {
      decay: false,
    });
    this.clsToken =
      pool === "cls"
        ? this.addParameter("cls_token", truncatedNormalInit([1, 1, dim], 0.02, rng), { decay: false })
        : undefined;
    this.maskToken = this.addParameter("mask_token", truncatedNormalInit([1, 1, dim], 0.02, rng), {
      decay: false,
    });
    for (let i = 0; i < depth; i++) {
      this.blocks.push(this.addModule(`block${i}`, new TransformerBlock(dim, heads, rng, { mlpRatio })));
    }
    this.norm = this.addModule("norm", new LayerNorm(dim, { eps: 1e-6 }));
  }

  forward(x: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor {
    checkTokenBatch(x, this.input, "text-transformer");
    const [b, t] = x.shape as [number, number];
    const { mask } = opts;
    if (mask && !(mask.rank === 2 && mask.shape[0] === b && mask.shape[1] === t)) {
      throw new Error(`text-transformer: mask must be [${b}, ${t}] (1 = masked), got [${mask.shape}]`);
    }
    const cls = this.clsToken !== undefined;
    const d = this.dim;
    return tf.tidy(() => {
      let h = this.embed.forward(x); // [B, T, D]
      if (mask) {
        const m = tf.reshape(tf.cast(mask, "float32"), [b, t, 1]);
        h = tf.add(tf.mul(h, tf.sub(1, m)), tf.mul(this.maskToken, m));
      }
      const offset = cls ? 1 : 0;
      h = tf.add(h, tf.slice(this.posEmbed, [0, offset, 0], [1, t, d]));
      let padding = paddingMask(x, this.options.padId);
      if (this.clsToken) {
        const c = tf.add(this.clsToken, tf.slice(this.posEmbed, [0, 0, 0], [1, 1, d]));
        h = tf.concat([tf.tile(c, [b, 1, 1]), h], 1);
        if (padding) padding = tf.concat([tf.zeros([b, 1]), padding], 1);
      }
      for (const block of this.blocks) h = block.forward(h, { mask: padding });
      h = this.norm.forward(h);
      const tokens = cls ? tf.slice(h, [0, 1, 0], [b, t, d]) : h;
      if (opts.tokens) return tokens;
      if (cls) return tf.reshape(tf.slice(h, [0, 0, 0], [b, 1, d]), [b, d]);
      return maskedMean(tokens, padding);
    });
  }

  protected recreate(): TextTransformer {
    return new TextTransformer(this.options, this.input, new Rng(0));
  }
}

export const textTransformerBackbone = defineBackbone({
  name: "text-transformer",
  description:
    "Tiny pre-norm transformer encoder over token ids with learned positions; mean or class-token pooling",
  options: textTransformerOptions,
  build: (opts, input, rng) => new TextTransformer(opts, textInput(input, "text-transformer"), rng),
});
