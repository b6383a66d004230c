/**
 * Masked language modelling: corrupt 15% of the tokens and predict the originals.
 *
 * Devlin, Chang, Lee, Toutanova, "BERT: Pre-training of Deep Bidirectional Transformers for
 * Language Understanding", NAACL 2019. https://arxiv.org/abs/1810.04805
 *
 *   S = a random 15% of the (non-special) positions; of S: 80% -> [MASK], 10% -> random token,
 *       10% unchanged (see ../mlm-masking.ts)
 *   h = Enc(corrupted ids)                  per-token features [B, T, D] (text-transformer or lstm)
 *   p(. | i) = softmax(W h_i + b)           linear head over the vocabulary
 *   loss = -(1/|S|) sum_{i in S} log p(x_i | i)       cross-entropy on the selected tokens only
 *   metrics: maskedAccuracy = mean_{i in S} [argmax p(. | i) = x_i],  perplexity = exp(loss)
 *
 * [MASK] is core's tokenizer id 3; core's text-transformer also swaps the embedding of those
 * positions for its learned mask token (`forward(ids, { mask })`), which is the same function.
 * The lstm backbone is a left-to-right encoder, so its per-token state sees only the left context:
 * it learns a weaker, one-sided MLM (the articles' embedding + LSTM example); the transformer sees
 * both sides, as BERT does.
 */
import {
  type DatasetSplit,
  defineMethod,
  Linear,
  MethodBase,
  type Rng,
  type StepContext,
  type StepResult,
  softmaxNll,
  TextTransformer,
  type TrainBatch,
  tf,
} from "@selfsup/core";
import { z } from "zod";
import { corruptTokens } from "../mlm-masking.js";

export const mlmMethodOptions = z.object({
  selectProb: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.15)
    .describe("fraction of tokens selected for prediction (BERT: 0.15)"),
  maskProb: z
    .number()
    .min(0)
    .max(1)
    .default(0.8)
    .describe("of the selected: fraction replaced by [MASK] (BERT: 0.8)"),
  randomProb: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe("of the selected: fraction replaced by a random token (BERT: 0.1); the rest stay unchanged"),
});
export type MLMOptions = z.output<typeof mlmMethodOptions>;

export interface MlmEvaluation {
  /** Fraction of selected tokens predicted exactly. */
  maskedAccuracy: number;
  /** exp(mean cross-entropy over the selected tokens). */
  perplexity: number;
  /** Selected tokens scored. */
  tokens: number;
}

export class MLM extends MethodBase<MLMOptions> {
  readonly views = 0;
  readonly backbone = this.addBackbone();
  readonly vocabSize = textVocab(this.ctx.input);
  readonly head = this.module(
    "head",
    new Linear(this.backbone.outputDim, this.vocabSize, this.ctx.rng, { init: "xavier" }),
  );

  /** Corrupts a batch of ids [B, T] with the 80/10/10 rule; the caller disposes the tensors. */
  corrupt(ids: tf.Tensor, rng: Rng): { inputs: tf.Tensor2D; selected: tf.Tensor2D; masked: tf.Tensor2D } {
    if (ids.rank !== 2 || ids.dtype !== "int32")
      throw new Error(`mlm expects int32 token ids [B, T], got ${ids.dtype} [${ids.shape}]`);
    const [b, t] = ids.shape as [number, number];
    const c = corruptTokens(ids.dataSync() as Int32Array, this.vocabSize, rng, this.options);
    return {
      inputs: tf.tensor2d(c.inputs, [b, t], "int32"),
      selected: tf.tensor2d(c.selected, [b, t]),
      masked: tf.tensor2d(c.masked, [b, t]),
    };
  }

  /** Per-token logits [B, T, V] of corrupted ids. */
  logits(inputs: tf.Tensor, masked: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const h =
        this.backbone instanceof TextTransformer
          ? this.backbone.forward(inputs, { tokens: true, mask: masked })
          : this.backbone.forward(inputs, { tokens: true });
      return this.head.forward(h);
    });
  }

  /** Sum of cross-entropy and of correct predictions over the selected tokens, and their count. */
  private scores(original: tf.Tensor, c: ReturnType<MLM["corrupt"]>) {
    return tf.tidy(() => {
      const logits = this.logits(c.inputs, c.masked); // [B, T, V]
      const nll = softmaxNll(logits, original); // [B, T]
      const correct = tf.cast(tf.equal(tf.argMax(logits, -1), original), "float32");
      return {
        nllSum: tf.sum(tf.mul(nll, c.selected)) as tf.Scalar,
        correctSum: tf.sum(tf.mul(correct, c.selected)) as tf.Scalar,
        count: tf.sum(c.selected) as tf.Scalar,
      };
    });
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const c = this.corrupt(batch.inputs, ctx.rng);
    try {
      return ctx.minimize(() => {
        const s = this.scores(batch.inputs, c);
        const n = tf.maximum(s.count, 1);
        const loss = tf.div(s.nllSum, n) as tf.Scalar;
        return {
          loss,
          metrics: {
            maskedAccuracy: tf.div(s.correctSum, n) as tf.Scalar,
            perplexity: tf.exp(loss) as tf.Scalar,
          },
        };
      });
    } finally {
      tf.dispose([c.inputs, c.selected, c.masked]);
    }
  }

  /**
   * Masked-token accuracy and perplexity on a held-out split (eval mode, corruption drawn from
   * `rng`, so a fixed seed gives the same figures for the same weights).
   */
  async evaluate(split: DatasetSplit, rng: Rng, batchSize = 64): Promise<MlmEvaluation> {
    const was = this.backbone.training;
    this.backbone.train(false);
    let nll = 0;
    let correct = 0;
    let count = 0;
    try {
      for (let start = 0; start < split.size; start += batchSize) {
        const rows: Int32Array[] = [];
        for (let i = start; i < Math.min(split.size, start + batchSize); i++) {
          rows.push(Int32Array.from((await split.get(i)).data as Int32Array));
        }
        const t = rows[0]?.length ?? 0;
        const flat = new Int32Array(rows.length * t);
        rows.forEach((r, i) => {
          flat.set(r, i * t);
        });
        const ids = tf.tensor2d(flat, [rows.length, t], "int32");
        const c = this.corrupt(ids, rng);
        const s = this.scores(ids, c);
        const [a, b, n] = [s.nllSum, s.correctSum, s.count].map((x) => x.dataSync()[0] as number) as [
          number,
          number,
          number,
        ];
        tf.dispose([ids, c.inputs, c.selected, c.masked, s.nllSum, s.correctSum, s.count]);
        nll += a;
        correct += b;
        count += n;
      }
    } finally {
      this.backbone.train(was);
    }
    return {
      maskedAccuracy: count > 0 ? correct / count : Number.NaN,
      perplexity: count > 0 ? Math.exp(nll / count) : Number.NaN,
      tokens: count,
    };
  }
}

function textVocab(input: { kind: string; vocabSize?: number }): number {
  if (input.kind !== "text" || input.vocabSize === undefined)
    throw new Error(`mlm needs token inputs (a text dataset such as text-lines), got ${input.kind}`);
  return input.vocabSize;
}

export const mlmMethod = defineMethod({
  name: "mlm",
  description:
    "Masked language modelling: 15% of tokens selected, 80/10/10 [MASK]/random/kept, cross-entropy on them (Devlin et al. 2019)",
  family: "masked",
  paper: {
    title: "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
    url: "https://arxiv.org/abs/1810.04805",
  },
  inputs: ["text"],
  options: mlmMethodOptions,
  tinyOptions: {},
  defaultBackbone: () => ({ name: "text-transformer" }),
  create: (opts, ctx) => new MLM(opts, ctx),
});
