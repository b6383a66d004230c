/**
 * BEiT: BERT pre-training of image transformers. Mask blocks of patches, replace them by a
 * learned mask token, and predict each masked patch's visual token from a trained tokenizer.
 *
 * Bao, Dong, Piao, Wei, "BEiT: BERT Pre-Training of Image Transformers", ICLR 2022.
 * https://arxiv.org/abs/2106.08254
 *
 *   t_i = Tok(patch_i) in {1..K}            visual tokens of the unmasked image (frozen tokenizer)
 *   M   = block-wise mask, ~40% of the N patches (rectangles of >= minMaskPatches, algorithm 1)
 *   h   = ViT(patch embeddings with e_i <- [MASK] for i in M, + positions)          [B, N, D]
 *   loss = -(1/|M|) sum_{i in M} log softmax(W h_i + b)[t_i]      cross-entropy on masked patches
 *
 * The tokenizer is the `beit-tokenizer` method's checkpoint (a small VQ-VAE or k-means codebook
 * trained by this package, since DALL-E's dVAE cannot be downloaded), named by the option
 * `tokenizer` (run id, run directory or checkpoint directory). It is declared as a frozen module,
 * so a BEiT checkpoint carries the tokenizer it was trained against.
 *
 * Paper defaults (ImageNet, 224 px, patch 16): 14x14 patches, 75 masked (40%), blocks of at least
 * 16 patches. Defaults here (28 px digits, patch 4: 7x7 patches): ratio 0.4, blocks of at least 4.
 */
import {
  blockwiseMask,
  defineMethod,
  Linear,
  MethodBase,
  type MethodBuildContext,
  type StepContext,
  type StepResult,
  softmaxNll,
  type TrainBatch,
  tf,
} from "@selfsup/core";
import { z } from "zod";
import { maskedMean } from "../masked-loss.js";
import { loadPatchTokenizer, MAKE_TOKENIZER_HINT } from "../tokenizer-checkpoint.js";
import { requireViT } from "../vit-backbone.js";

export const beitMethodOptions = z.object({
  tokenizer: z
    .string()
    .min(1)
    .optional()
    .describe(
      "run id or name, run directory or checkpoint directory of a trained beit-tokenizer (required; the runner turns a run into its newest intact checkpoint)",
    ),
  maskRatio: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.4)
    .describe("target fraction of patches masked, in blocks (paper: 0.4)"),
  minMaskPatches: z
    .number()
    .int()
    .positive()
    .default(4)
    .describe("smallest masked block, in patches (paper: 16 on a 14x14 grid)"),
});
export type BEiTOptions = z.output<typeof beitMethodOptions>;

function requireTokenizer(opts: BEiTOptions): string {
  if (!opts.tokenizer)
    throw new Error(`beit needs a visual tokenizer (option \`tokenizer\`): ${MAKE_TOKENIZER_HINT}`);
  return opts.tokenizer;
}

export class BEiT extends MethodBase<BEiTOptions> {
  readonly views = 0;
  readonly tokenizerRef = requireTokenizer(this.options);
  readonly backbone = this.addBackbone();
  readonly vit = requireViT(this.backbone, "beit", "token");
  readonly tokenizer = this.module("tokenizer", loadPatchTokenizer(this.tokenizerRef).tokenizer, {
    trainable: false,
  });
  readonly head = this.module(
    "head",
    new Linear(this.vit.dim, this.tokenizer.spec.codebookSize, this.ctx.rng, { init: "xavier" }),
  );

  constructor(options: BEiTOptions, ctx: MethodBuildContext) {
    super(options, ctx);
    const t = this.tokenizer.spec;
    const v = this.vit;
    if (
      t.patchSize !== v.patchSize ||
      t.height !== v.input.height ||
      t.width !== v.input.width ||
      t.channels !== v.input.channels
    ) {
      throw new Error(
        `beit: the tokenizer was trained on ${t.height}x${t.width}x${t.channels} images with ${t.patchSize}px patches, but the ViT takes ${v.input.height}x${v.input.width}x${v.input.channels} images with ${v.patchSize}px patches; train the tokenizer with --set method.options.patchSize=${v.patchSize} on the same dataset`,
      );
    }
  }

  /** A block-wise mask per sample, [B, N]. */
  drawMask(batch: number, rng: StepContext["rng"]): tf.Tensor2D {
    const [gh, gw] = this.vit.grid;
    return blockwiseMask(rng, batch, gh, gw, {
      ratio: this.options.maskRatio,
      minPatches: this.options.minMaskPatches,
    });
  }

  /** Loss and masked-token accuracy of a batch under `mask` against `targets` [B, N] int32. */
  scores(x: tf.Tensor, mask: tf.Tensor, targets: tf.Tensor): { loss: tf.Scalar; accuracy: tf.Scalar } {
    return tf.tidy(() => {
      const b = x.shape[0] as number;
      const n = this.vit.numPatches;
      const tokens = this.vit.forward(x, { mask, tokens: true });
      const logits = this.head.forward(tf.slice(tokens, [0, 1, 0], [b, n, this.vit.dim])); // [B, N, K]
      const nll = softmaxNll(logits, targets);
      const correct = tf.cast(tf.equal(tf.argMax(logits, -1), targets), "float32");
      return { loss: maskedMean(nll, mask), accuracy: maskedMean(correct, mask) };
    });
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const x = batch.inputs;
    const targets = this.tokenizer.tokenize(x);
    const mask = this.drawMask(x.shape[0] as number, ctx.rng);
    try {
      return ctx.minimize(() => {
        const s = this.scores(x, mask, targets);
        return {
          loss: s.loss,
          metrics: { maskedAccuracy: s.accuracy, maskedFraction: tf.mean(mask) as tf.Scalar },
        };
      });
    } finally {
      tf.dispose([targets, mask]);
    }
  }
}

export const beitMethod = defineMethod({
  name: "beit",
  description:
    "BEiT: block-wise masking, learned mask token, cross-entropy on masked patches' visual tokens from beit-tokenizer (Bao et al. 2021)",
  family: "masked",
  paper: { title: "BEiT: BERT Pre-Training of Image Transformers", url: "https://arxiv.org/abs/2106.08254" },
  inputs: ["image"],
  options: beitMethodOptions,
  tinyOptions: {},
  defaultBackbone: () => ({ name: "vit-tiny", options: { maskMode: "token" } }),
  requires: { method: "beit-tokenizer", option: "tokenizer" },
  create: (opts, ctx) => new BEiT(opts, ctx),
});
