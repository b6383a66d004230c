import { z } from "zod";
import { defineBackbone } from "../../plugin/define-plugin.js";
import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { Embedding } from "../layers/embedding.js";
import { LSTM } from "../layers/lstm.js";
import { type FeatureModule, type ForwardOptions, Module } from "../module.js";
import { type TextInput, textInput } from "./input.js";
import { checkTokenBatch, maskedMean, paddingMask } from "./text.js";

export const lstmEncoderOptions = z.object({
  /** Width of the token embeddings (default 64). */
  embedDim: z.number().int().positive().default(64),
  /** LSTM hidden size = outputDim (default 128). */
  hiddenDim: z.number().int().positive().default(128),
  /** Sequence feature: the last hidden state ("last", default) or the mean of all hidden states ("mean"). */
  pool: z.enum(["last", "mean"]).default("last"),
  /**
   * Token id used for padding, or null (default) when sequences are never padded. Padded steps
   * leave the LSTM state unchanged and are left out of the mean.
   */
  padId: z.number().int().min(0).nullable().default(null),
});
export type LSTMEncoderOptions = z.output<typeof lstmEncoderOptions>;

/**
 * A text encoder: token embedding -> single-layer LSTM (Hochreiter & Schmidhuber, 1997) ->
 * last hidden state or mean over time, [B, hiddenDim]. `{ tokens: true }` gives the hidden state
 * at every position [B, T, hiddenDim] (e.g. for a per-token prediction head).
 */
export class LSTMEncoder extends Module implements FeatureModule {
  readonly outputDim: number;
  readonly embed: Embedding;
  readonly lstm: LSTM;

  constructor(
    readonly options: LSTMEncoderOptions,
    readonly input: TextInput,
    rng: Rng,
  ) {
    super();
    if (options.padId !== null && options.padId >= input.vocabSize) {
      throw new Error(`lstm: padId ${options.padId} is outside the vocabulary of ${input.vocabSize} tokens`);
    }
    this.embed = this.addModule("embed", new Embedding(input.vocabSize, options.embedDim, rng));
    this.lstm = this.addModule("lstm", new LSTM(options.embedDim, options.hiddenDim, rng));
    this.outputDim = options.hiddenDim;
  }

  forward(x: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor {
    checkTokenBatch(x, this.input, "lstm");
    return tf.tidy(() => {
      const padding = paddingMask(x, this.options.padId);
      const e = this.embed.forward(x);
      if (!opts.tokens && this.options.pool === "last") return this.lstm.forward(e, { mask: padding });
      const states = this.lstm.forward(e, { mask: padding, tokens: true });
      return opts.tokens ? states : maskedMean(states, padding);
    });
  }

  protected recreate(): LSTMEncoder {
    return new LSTMEncoder(this.options, this.input, new Rng(0));
  }
}

export const lstmBackbone = defineBackbone({
  name: "lstm",
  description:
    "Text encoder: token embedding + single-layer LSTM (Hochreiter & Schmidhuber 1997), last state or mean",
  options: lstmEncoderOptions,
  build: (opts, input, rng) => new LSTMEncoder(opts, textInput(input, "lstm"), rng),
});
