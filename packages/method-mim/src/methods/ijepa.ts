/**
 * I-JEPA: predict the representations of image blocks from a context block, in latent space.
 *
 * Assran, Duval, Misra, Bojanowski, Vincent, Rabbat, LeCun, Ballas, "Self-Supervised Learning from
 * Images with a Joint-Embedding Predictive Architecture", CVPR 2023. https://arxiv.org/abs/2301.08243
 * Written after the paper and the reference code (facebookresearch/ijepa: src/masks/multiblock.py,
 * src/train.py, src/models/vision_transformer.py).
 *
 *   masks:    per image M = 4 target blocks B_i (scale 0.15-0.2, aspect 0.75-1.5) and one context
 *             block (scale 0.85-1, aspect 1) minus the targets, on the patch grid (core's
 *             `multiBlockMasks`: sizes drawn once per batch, contexts cut to the batch's smallest)
 *   targets:  s_y = LN(f_target(x))  the EMA target encoder on the whole image, its patch tokens
 *             layer-normed over the feature axis without affine (as the reference), s_y(i) = s_y at B_i
 *   context:  s_x = f_context(x at the context patches)   vit-tiny sees the context tokens only
 *             (maskMode "remove": every other patch is dropped after its position embedding)
 *   predict:  ŝ_y(i) = g(s_x, {m + p_j : j in B_i})  a narrow ViT: s_x to its width plus its own
 *             position embeddings at the context positions, one mask token plus the position
 *             embedding of each target patch, pre-norm blocks, LayerNorm, Linear back to the
 *             encoder's width; one pass per target block (the reference's batch of M B sequences)
 *   loss:     (1 / M) sum_i (1 / |B_i|) sum_{j in B_i} ||ŝ_y(i)_j - s_y(i)_j||² / D   (`latentRegressionLoss`;
 *             the paper's L2; the reference code's smooth L1 is `loss: "smooth-l1"`)
 *   EMA:      θ_target <- m θ_target + (1 - m) θ_context after each step, m linear from 0.996 to 1
 *             over training (the reference's schedule)
 *
 * No pixel is reconstructed and no augmentation is applied beyond the crop (`crop`).
 *
 * Paper (ViT-H/14, ImageNet) beside ours (vit-tiny on 28 px digits):
 *   targets 4, scale 0.15-0.2, aspect 0.75-1.5         same
 *   context scale 0.85-1, aspect 1                     same
 *   min_keep 10 (of 256 patches)                       4 (grids of 16-49 patches)
 *   predictor depth 12 (6 for ViT-B/L), width 384      depth 2, half the encoder's width (32 on the
 *                                                      default vit-tiny, 64 on the bench's), 4 heads
 *   predictor position embeddings: fixed 2-D sin-cos   learned (as MAE's decoder here)
 *   EMA 0.996 -> 1 linear                              same
 *   random resized crop, scale 0.3-1                   off by default (`crop: true` turns it on):
 *                                                      on centred digits a crop mostly cuts strokes
 *                                                      (SimMIM's crop here slowed learning)
 *   evaluated: the target encoder, average-pooled      the context encoder (the run's backbone),
 *                                                      read as the backbone's `pool` says
 */
import {
  type AugmentationConfig,
  defineMethod,
  emaUpdate,
  embeddingStd,
  MethodBase,
  type MultiBlockOptions,
  multiBlockMasks,
  multiBlockProblems,
  Rng,
  type StepContext,
  type StepResult,
  type TrainBatch,
  tf,
} from "@selfsup/core";
import { z } from "zod";
import { MaskTokenTransformer, type MaskTokenTransformerSize } from "../mask-token-transformer.js";
import { indexSelection, latentRegressionLoss } from "../masked-loss.js";
import { requireViT } from "../vit-backbone.js";

const range = (lo: number, hi: number, what: string) =>
  z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(([a, b]) => a <= b && (hi === Number.POSITIVE_INFINITY || b <= hi) && a >= lo, {
      message: `${what}: [min, max] with ${lo} < min <= max${hi === Number.POSITIVE_INFINITY ? "" : ` <= ${hi}`}`,
    });

export const ijepaMethodOptions = z.object({
  targets: z.number().int().min(1).default(4).describe("target blocks per image (paper: 4)"),
  targetScale: range(0, 1, "targetScale")
    .default([0.15, 0.2])
    .describe("target block size, a fraction of the patch grid (paper: 0.15-0.2)"),
  targetAspect: range(0, Number.POSITIVE_INFINITY, "targetAspect")
    .default([0.75, 1.5])
    .describe("target block aspect ratio, height / width (paper: 0.75-1.5)"),
  contextScale: range(0, 1, "contextScale")
    .default([0.85, 1])
    .describe("context block size, a fraction of the patch grid, aspect 1 (paper: 0.85-1)"),
  minKeep: z
    .number()
    .int()
    .min(0)
    .default(4)
    .describe("a context keeps more than this many patches, else it is redrawn (paper: 10 of 256)"),
  predictorDim: z
    .number()
    .int()
    .positive()
    .optional()
    .describe("predictor width (default: half the encoder's, a multiple of predictorHeads; paper: 384)"),
  predictorDepth: z.number().int().positive().default(2).describe("predictor blocks (paper: 6-12)"),
  predictorHeads: z.number().int().positive().default(4).describe("predictor attention heads (paper: 12)"),
  baseMomentum: z
    .number()
    .min(0)
    .max(1)
    .default(0.996)
    .describe("target encoder EMA momentum at step 0, raised linearly to finalMomentum (paper: 0.996)"),
  finalMomentum: z.number().min(0).max(1).default(1).describe("EMA momentum at the last step (paper: 1)"),
  loss: z
    .enum(["mse", "smooth-l1"])
    .default("mse")
    .describe('"mse": the paper\'s L2; "smooth-l1": the reference code\'s Huber loss (beta 1)'),
  crop: z
    .boolean()
    .default(false)
    .describe(
      "train on a random resized crop (scale cropScale, aspect 3/4-4/3), the paper's only augmentation",
    ),
  cropScale: range(0, 1, "cropScale").default([0.3, 1]).describe("crop area range (paper: 0.3-1)"),
});
export type IJEPAOptions = z.output<typeof ijepaMethodOptions>;

/** The predictor width: `predictorDim`, else half the encoder's rounded down to a multiple of the heads. */
export function predictorWidth(
  opts: Pick<IJEPAOptions, "predictorDim" | "predictorHeads">,
  encoderDim: number,
) {
  if (opts.predictorDim !== undefined) return opts.predictorDim;
  const h = opts.predictorHeads;
  return Math.max(h, Math.floor(encoderDim / 2 / h) * h);
}

/**
 * I-JEPA's predictor: `predict(context, contextSelect, targetSelect)` takes the context encoder's
 * patch tokens [B, V, D], the 0/1 matrices placing them on the grid [B, V, N] and the target
 * blocks' patches [M·B, T, N] (block-major: block i of every image, then block i + 1) and returns
 * the predicted target representations [M·B, T, D].
 */
export class IJepaPredictor extends MaskTokenTransformer {
  constructor(size: MaskTokenTransformerSize, rng: Rng) {
    const options = { method: "ijepa", dim: "predictorDim", heads: "predictorHeads" };
    super(size, { classToken: false, output: { name: "proj", dim: size.encoderDim }, options }, rng);
  }

  /** Position embeddings [S, R, dim] of the patches `select` [S, R, N] picks. */
  private positions(select: tf.Tensor3D): tf.Tensor {
    const [s, r, n] = select.shape;
    return tf.reshape(tf.matMul(tf.reshape(select, [s * r, n]), this.posEmbed), [s, r, this.dim]);
  }

  predict(context: tf.Tensor, contextSelect: tf.Tensor3D, targetSelect: tf.Tensor3D): tf.Tensor {
    const [b, v] = context.shape as [number, number, number];
    const [mb, t] = targetSelect.shape;
    if (mb % b !== 0 || contextSelect.shape[0] !== b || contextSelect.shape[1] !== v)
      throw new Error(
        `ijepa predictor: context [${context.shape}], its selection [${contextSelect.shape}] and the targets' [${targetSelect.shape}] do not match`,
      );
    return tf.tidy(() => {
      const x = tf.add(this.embed.forward(context), this.positions(contextSelect)); // [B, V, d]
      const repeated = tf.concat(
        Array.from({ length: mb / b }, () => x),
        0,
      ); // [M·B, V, d], block-major as the targets
      const queries = tf.add(this.maskToken, this.positions(targetSelect)); // [M·B, T, d]
      let h: tf.Tensor = tf.concat([repeated, queries], 1);
      for (const block of this.blocks) h = block.forward(h);
      h = this.norm.forward(h);
      return this.out.forward(tf.slice(h, [0, v, 0], [mb, t, this.dim]));
    });
  }

  forward(): tf.Tensor {
    throw new Error("ijepa predictor: call predict(context, contextSelect, targetSelect)");
  }

  protected recreate(): IJepaPredictor {
    return new IJepaPredictor(this, new Rng(0));
  }
}

/** One batch's masks as the tensors a step uses (dispose with `disposeMasks`). */
export interface IJepaMasks {
  /** [B, N] 1 = not in the context (what vit-tiny's "remove" mode drops). */
  contextMask: tf.Tensor2D;
  /** [B, V, N] the context patches, ascending (the order vit-tiny keeps). */
  contextSelect: tf.Tensor3D;
  /** [M·B, T, N] the target blocks, block-major. */
  targetSelect: tf.Tensor3D;
  contextCount: number;
  targetCount: number;
}

export class IJEPA extends MethodBase<IJEPAOptions> {
  /** The crop with `crop`, else the images as they are. */
  readonly views = this.options.crop ? 1 : 0;
  readonly backbone = this.addBackbone();
  readonly vit = requireViT(this.backbone, "ijepa", "remove");
  readonly blockOptions: MultiBlockOptions = {
    targets: this.options.targets,
    targetScale: this.options.targetScale,
    targetAspect: this.options.targetAspect,
    contextScale: this.options.contextScale,
    minKeep: this.options.minKeep,
  };
  /** The grid checked before any other module is built: blocks that cannot fit fail here. */
  readonly grid = this.checkGrid();
  readonly predictor = this.module(
    "predictor",
    new IJepaPredictor(
      {
        encoderDim: this.vit.dim,
        numPatches: this.vit.numPatches,
        dim: predictorWidth(this.options, this.vit.dim),
        depth: this.options.predictorDepth,
        heads: this.options.predictorHeads,
      },
      this.ctx.rng,
    ),
  );
  readonly targetEncoder = this.momentumCopyOf("targetEncoder", this.vit);

  private checkGrid(): readonly [number, number] {
    const [gh, gw] = this.vit.grid;
    const problems = multiBlockProblems(gh, gw, this.blockOptions);
    if (problems.length > 0)
      throw new Error(
        `ijepa: the target and context blocks do not fit vit-tiny's ${gh}x${gw} patch grid (patchSize ${this.vit.patchSize} on ${this.vit.input.height}x${this.vit.input.width}): ${problems.join("; ")}`,
      );
    return this.vit.grid;
  }

  /** m at a step: linear from baseMomentum to finalMomentum over the run (the reference's schedule). */
  momentumAt(step: number, totalSteps: number): number {
    const { baseMomentum: m0, finalMomentum: m1 } = this.options;
    if (!(totalSteps > 0)) return m0;
    return m0 + (m1 - m0) * Math.min(Math.max(step / totalSteps, 0), 1);
  }

  /** Draws a batch's context and target blocks (core's `multiBlockMasks`) as tensors. */
  drawMasks(batch: number, rng: Rng): IJepaMasks {
    const [gh, gw] = this.vit.grid;
    const n = gh * gw;
    const m = multiBlockMasks(rng, batch, gh, gw, this.blockOptions);
    const mask = new Float32Array(batch * n).fill(1);
    m.context.forEach((row, i) => {
      for (const j of row) mask[i * n + j] = 0;
    });
    return {
      contextMask: tf.tensor2d(mask, [batch, n]),
      contextSelect: indexSelection(m.context, n),
      targetSelect: indexSelection(m.targets.flat(), n),
      contextCount: m.contextCount,
      targetCount: m.targetCount,
    };
  }

  /** The targets [M·B, T, D]: the target encoder's layer-normed patch tokens at the blocks (no gradient). */
  targets(x: tf.Tensor, targetSelect: tf.Tensor3D): tf.Tensor {
    return tf.tidy(() => {
      const tokens = this.targetEncoder.forward(x, { tokens: true }); // [B, 1 + N, D]
      const [b, t, d] = tokens.shape as [number, number, number];
      const patches = tf.slice(tokens, [0, 1, 0], [b, t - 1, d]);
      const { mean, variance } = tf.moments(patches, -1, true);
      const normed = tf.div(tf.sub(patches, mean), tf.sqrt(tf.add(variance, 1e-5))); // F.layer_norm
      const m = targetSelect.shape[0] / b;
      return tf.matMul(
        targetSelect,
        tf.concat(
          Array.from({ length: m }, () => normed),
          0,
        ) as tf.Tensor3D,
      );
    });
  }

  /** The predicted targets [M·B, T, D] from the context patches only. */
  predict(x: tf.Tensor, masks: IJepaMasks): tf.Tensor {
    return tf.tidy(() => {
      const tokens = this.vit.forward(x, { mask: masks.contextMask, tokens: true }); // [B, 1 + V, D]
      const [b, t, d] = tokens.shape as [number, number, number];
      const context = tf.slice(tokens, [0, 1, 0], [b, t - 1, d]);
      return this.predictor.predict(context, masks.contextSelect, masks.targetSelect);
    });
  }

  /** The images a step trains on: the crop view with `crop`, else the batch's inputs. */
  override defaultAugmentation(): AugmentationConfig[] {
    return this.options.crop
      ? [{ name: "random-resized-crop", options: { scale: this.options.cropScale, ratio: [3 / 4, 4 / 3] } }]
      : [];
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const x = this.options.crop ? (batch.views[0] as tf.Tensor) : batch.inputs;
    const masks = this.drawMasks(x.shape[0] as number, ctx.rng);
    const momentum = this.momentumAt(ctx.step, ctx.totalSteps);
    const target = this.targets(x, masks.targetSelect);
    let result: StepResult;
    try {
      result = ctx.minimize(() => {
        const pred = this.predict(x, masks);
        return {
          loss: latentRegressionLoss(pred, target, this.options.loss),
          metrics: {
            momentum: tf.scalar(momentum),
            contextPatches: tf.scalar(masks.contextCount),
            targetPatches: tf.scalar(masks.targetCount),
            // spread over the batch of the predictions and of the targets (each averaged over a
            // block's patches): near 0 when every image maps alike, the collapse I-JEPA's EMA and
            // predictor are there to prevent
            predictionStd: embeddingStd(tf.mean(pred, 1)),
            targetStd: embeddingStd(tf.mean(target, 1)),
          },
        };
      });
    } finally {
      tf.dispose([target, masks.contextMask, masks.contextSelect, masks.targetSelect]);
    }
    emaUpdate(this.targetEncoder, this.vit, momentum);
    return result;
  }
}

export const ijepaMethod = defineMethod({
  name: "ijepa",
  description:
    "I-JEPA: from a context block, a narrow ViT predicts an EMA target encoder's representations of 4 target blocks, L2 in latent space (Assran et al. 2023)",
  family: "masked",
  paper: {
    title: "Self-Supervised Learning from Images with a Joint-Embedding Predictive Architecture",
    url: "https://arxiv.org/abs/2301.08243",
  },
  inputs: ["image"],
  options: ijepaMethodOptions,
  tinyOptions: { predictorDim: 8, predictorDepth: 1, predictorHeads: 2 },
  composable: false, // the target encoder's EMA updates after each step
  defaultBackbone: () => ({ name: "vit-tiny", options: { maskMode: "remove" } }),
  create: (opts, ctx) => new IJEPA(opts, ctx),
});
