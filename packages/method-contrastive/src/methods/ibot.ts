/**
 * iBOT: DINO on the class token plus masked image modelling with the online (EMA) teacher as the
 * tokenizer. The student sees its global views with blockwise-masked patches replaced by a mask
 * token, and each masked patch's output must predict the teacher's distribution over prototypes
 * for that patch of the unmasked view.
 *
 * Zhou, Wei, Wang, Shen, Xie, Yuille, Kong, "iBOT: Image BERT Pre-Training with Online Tokenizer",
 * ICLR 2022. https://arxiv.org/abs/2111.07832 (reference code: github.com/bytedance/ibot)
 *
 *   views:   G global + M local crops (core's MultiCrop, as DINO); the teacher sees the globals
 *   masks:   per global view and image, with probability `maskProbability` a blockwise mask (core's
 *            BEiT generator, blocks of >= (min(gh, gw) div 3)^2 patches, aspect 0.3-3.3) of a ratio
 *            drawn uniformly in `maskRatio`, else none; local crops are never masked
 *   student: the ViT on the masked globals (mask token) and on the unmasked locals; every output
 *            token (class and patches) through one head h = W_n · l2n(mlp(.)) (DINO's)
 *   teacher: the EMA of the student (backbone and head), on the unmasked globals
 *   loss:    lambda1 · L_[CLS] + lambda2 · L_MIM
 *            L_[CLS]: DINO's loss (losses/dino.ts) on the class tokens, centre c, tau_t
 *            L_MIM:   ibotPatchLoss (losses/ibot.ts) on the masked patches of each global view
 *                     against the teacher's patches of the same view, own centre c2, tau_t'
 *   centres: c  <- m c  + (1 - m) mean of the teacher's class logits
 *            c2 <- m2 c2 + (1 - m2) mean of the teacher's patch logits (over images and patches)
 *
 * The head is shared between the class token and the patch tokens, as in the paper's main setting
 * (its ablation, Table 17 of the arXiv version: sharing the head is better; the reference code's
 * `--shared_head` flag, set in its ViT-S/B recipes). The schedules (teacher momentum, tau_t
 * warm-up), the prototype layer, the frozen-last-layer epochs and the multi-crop options are
 * DINO's (methods/dino.ts); this class only adds the masks, the patch outputs and the second centre.
 *
 * Paper defaults (ViT-S/16 and ViT-B/16, ImageNet) beside ours (28 px digits, vit-tiny of
 * 4 px patches: a 7x7 grid):
 *   K 8192, shared head                        ours 256 (memory: the head runs on every token), shared
 *   mask: ratio U(0.1, 0.5) with prob. 0.5     same (`--pred_ratio 0 0.3 --pred_ratio_var 0 0.2`)
 *   tau_t 0.04 -> 0.07, tau_t' 0.04 -> 0.07    same, warmed up over DINO's `teacherTemperatureWarmup`
 *   (warm-up 30 epochs), tau_s 0.1
 *   lambda1 = lambda2 = 1                      same
 *   centre momenta 0.9 and 0.9                 same
 *   2 global + 10 local crops                  2 global + 6 local (DINO's defaults here)
 */
import {
  blockwiseMaskValues,
  defineMethod,
  embeddingStd,
  type Rng,
  type StepContext,
  type StepResult,
  type TrainBatch,
  tf,
  ViT,
} from "@selfsup/core";
import { z } from "zod";
import { dinoLoss, teacherDistribution } from "../losses/dino.js";
import { ibotPatchLoss } from "../losses/ibot.js";
import { chunks, collapseMetrics, DINO, dinoMethodOptions, teacherTemperatureAt } from "./dino.js";

export const ibotMethodOptions = dinoMethodOptions.extend({
  batchNorm: z
    .boolean()
    .default(false)
    .describe("BatchNorm in the shared head's MLP, which also reads patch tokens (DINO's default: on)"),
  prototypes: z
    .number()
    .int()
    .min(2)
    .default(256)
    .describe(
      "K, outputs of the shared head's last layer for class and patch tokens (iBOT: 8192; ours 256: with 1024, one wasm step of batch 64 on the digits needed an estimated 4.2 GiB, over the 4 GiB heap)",
    ),
  globalCrops: z
    .number()
    .int()
    .min(
      2,
      "iBOT needs at least 2 global crops: each global crop's teacher class token is the target of the other views",
    )
    .default(2)
    .describe("global crops per image (iBOT: 2)"),
  maskProbability: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe("probability that a global view of an image is masked at all (iBOT: 0.5)"),
  maskRatio: z
    .tuple([z.number().min(0).max(1), z.number().min(0).max(1)])
    .refine(([a, b]) => a <= b, "maskRatio is [lo, hi] with lo <= hi")
    .default([0.1, 0.5])
    .describe("range of the masked fraction of a masked view, drawn uniformly (iBOT: [0.1, 0.5])"),
  patchTeacherTemperature: z
    .number()
    .positive("must be > 0")
    .default(0.07)
    .describe("tau_t' of the patch tokens after the warm-up (iBOT: 0.07)"),
  warmupPatchTeacherTemperature: z
    .number()
    .positive("must be > 0")
    .default(0.04)
    .describe("tau_t' at the first step (iBOT: 0.04)"),
  patchCenterMomentum: z
    .number()
    .min(0)
    .max(1)
    .default(0.9)
    .describe("centring momentum of the patch tokens' centre (iBOT: 0.9)"),
  clsWeight: z.number().min(0).default(1).describe("lambda1, weight of the class-token loss (iBOT: 1)"),
  patchWeight: z.number().min(0).default(1).describe("lambda2, weight of the masked-patch loss (iBOT: 1)"),
});
export type IBOTOptions = z.output<typeof ibotMethodOptions>;

/** The backbone as a ViT that replaces masked patches by a mask token, or an error naming the fix. */
export function requireMaskTokenViT(backbone: unknown, who: string): ViT {
  if (!(backbone instanceof ViT))
    throw new Error(
      `${who} needs a backbone with patch tokens (vit-tiny), got ${(backbone as object).constructor.name}; set the run's backbone to { name: "vit-tiny", options: { maskMode: "token" } }`,
    );
  if (backbone.options.maskMode !== "token")
    throw new Error(
      `${who} needs vit-tiny with maskMode "token" (masked patches are replaced by a learned mask token and keep their place), but the backbone has maskMode "${backbone.options.maskMode}"; set backbone options { maskMode: "token" }`,
    );
  return backbone;
}

/**
 * iBOT's masks for one global view of `batch` images on a gh x gw grid [batch, gh·gw] (1 = masked):
 * each image masked with probability p, then blockwise at a ratio drawn in [lo, hi].
 */
export function ibotMaskValues(
  rng: Rng,
  batch: number,
  gh: number,
  gw: number,
  probability: number,
  ratio: readonly [number, number],
): Float32Array {
  const n = gh * gw;
  const out = new Float32Array(batch * n);
  const minPatches = Math.floor(Math.min(gh, gw) / 3) ** 2;
  for (let b = 0; b < batch; b++) {
    if (!(rng.next() < probability)) continue;
    const r = rng.uniform(ratio[0], ratio[1]);
    const mask = blockwiseMaskValues(rng, gh, gw, {
      ratio: r,
      minPatches: Math.max(1, minPatches),
      minAspect: 0.3,
    });
    out.set(mask, b * n);
  }
  return out;
}

export class IBOT extends DINO<IBOTOptions> {
  readonly vit = requireMaskTokenViT(this.backbone, "ibot");
  readonly teacherVit = requireMaskTokenViT(this.teacherBackbone, "ibot");
  readonly patchCenter = this.stateVariable(
    "patchCenter",
    tf.variable(tf.zeros([1, this.options.prototypes]), false),
  );

  /**
   * The shared head reads tokens (class and patches) of the ViT's width, whatever the backbone's
   * pooled read is (e.g. the bench's max-pooled 2x2 grid: 4·dim). Runs while DINO's fields are built.
   */
  protected override headInputDim(): number {
    return this.backbone instanceof ViT ? this.backbone.dim : super.headInputDim();
  }

  patchTeacherTemperatureAt(step: number, totalSteps: number): number {
    const o = this.options;
    return teacherTemperatureAt(
      step,
      totalSteps,
      o.warmupPatchTeacherTemperature,
      o.patchTeacherTemperature,
      o.teacherTemperatureWarmup,
    );
  }

  /** Tokens [B, 1 + N, D] through a head: class logits [B, K] and patch logits [B, N, K]. */
  private tokenLogits(tokens: tf.Tensor, teacher: boolean): { cls: tf.Tensor; patches: tf.Tensor } {
    const [b, t, d] = tokens.shape as [number, number, number];
    const all = tf.reshape(this.head(tf.reshape(tokens, [b * t, d]), teacher), [b, t, -1]);
    const k = all.shape[2] as number;
    return {
      cls: tf.reshape(tf.slice(all, [0, 0, 0], [b, 1, k]), [b, k]),
      patches: tf.slice(all, [0, 1, 0], [b, t - 1, k]),
    };
  }

  override trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const { global = [], local = [] } = this.crops.views(batch.inputs, ctx.rng);
    const g = global.length;
    const o = this.options;
    const tau = this.momentumAt(ctx.step, ctx.totalSteps);
    const tauT = this.teacherTemperatureAt(ctx.step, ctx.totalSteps);
    const tauP = this.patchTeacherTemperatureAt(ctx.step, ctx.totalSteps);
    const [b, h, w] = (global[0] as tf.Tensor).shape as [number, number, number, number];
    const p = this.vit.patchSize;
    const [gh, gw] = [h / p, w / p];
    const masks = Array.from({ length: g }, () =>
      tf.tensor2d(ibotMaskValues(ctx.rng, b, gh, gw, o.maskProbability, o.maskRatio), [b, gh * gw]),
    );
    // the teacher: every global view unmasked, in one batch, class and patch logits
    const teacherOut = tf.tidy(() => {
      const out = this.tokenLogits(this.teacherVit.forward(tf.concat(global, 0), { tokens: true }), true);
      return [out.cls, out.patches] as const;
    });
    const [teacherCls, teacherPatches] = teacherOut;
    this.initCenter(this.center, teacherCls, ctx.step);
    tf.tidy(() => {
      const [n, t, k] = teacherPatches.shape as [number, number, number];
      this.initCenter(this.patchCenter, tf.reshape(teacherPatches, [n * t, k]), ctx.step);
    });
    const teacherClsViews = chunks(teacherCls, g);
    const teacherPatchViews = chunks(teacherPatches, g);
    let result: StepResult;
    try {
      result = ctx.minimize(() => {
        const mask = tf.concat(masks, 0);
        const tokens = this.vit.forward(tf.concat(global, 0), { tokens: true, mask });
        const student = this.tokenLogits(tokens, false);
        const studentCls = chunks(student.cls, g);
        if (local.length > 0) {
          const localTokens = this.vit.forward(tf.concat(local, 0), { tokens: true });
          const [lb, , d] = localTokens.shape as [number, number, number];
          const localCls = tf.reshape(tf.slice(localTokens, [0, 0, 0], [lb, 1, d]), [lb, d]);
          studentCls.push(...chunks(this.head(localCls), local.length));
        }
        const clsLoss = dinoLoss(studentCls, teacherClsViews, this.center, {
          studentTemperature: o.studentTemperature,
          teacherTemperature: tauT,
        });
        const patchLoss = ibotPatchLoss(
          chunks(student.patches, g),
          teacherPatchViews,
          masks,
          this.patchCenter,
          {
            studentTemperature: o.studentTemperature,
            teacherTemperature: tauP,
          },
        );
        const loss = tf.add(tf.mul(clsLoss, o.clsWeight), tf.mul(patchLoss, o.patchWeight)) as tf.Scalar;
        const metrics = collapseMetrics(teacherDistribution(teacherCls, this.center, tauT));
        const clsTokens = tf.reshape(tf.slice(tokens, [0, 0, 0], [g * b, 1, this.vit.dim]), [g * b, -1]);
        return {
          loss,
          metrics: {
            ...metrics,
            clsLoss,
            patchLoss,
            maskedFraction: tf.mean(mask) as tf.Scalar,
            // std of the student's l2-normalised class tokens over the batch: near 0 when all alike
            embeddingStd: embeddingStd(clsTokens),
            teacherTemperature: tf.scalar(tauT),
            momentum: tf.scalar(tau),
          },
        };
      }, this.stepVariables(ctx.epoch));
      this.updateCenter(this.center, teacherCls, o.centerMomentum);
      tf.tidy(() => {
        const [n, t, k] = teacherPatches.shape as [number, number, number];
        this.updateCenter(this.patchCenter, tf.reshape(teacherPatches, [n * t, k]), o.patchCenterMomentum);
      });
    } finally {
      tf.dispose([
        teacherCls,
        teacherPatches,
        ...teacherClsViews,
        ...teacherPatchViews,
        ...masks,
        ...global,
        ...local,
      ]);
    }
    this.updateTeacher(tau);
    return result;
  }
}

export const ibotMethod = defineMethod({
  name: "ibot",
  description:
    "iBOT: DINO on the class token plus masked image modelling, the EMA teacher's patch distributions as the targets of the student's masked patches (Zhou et al. 2022)",
  family: "contrastive",
  paper: {
    title: "iBOT: Image BERT Pre-Training with Online Tokenizer",
    url: "https://arxiv.org/abs/2111.07832",
  },
  inputs: ["image"],
  options: ibotMethodOptions,
  tinyOptions: { projectorHiddenDim: 16, bottleneckDim: 8, prototypes: 16, localCrops: 2 },
  composable: false, // the teacher's EMA and the two centre updates after each step
  defaultBackbone: () => ({ name: "vit-tiny", options: { maskMode: "token" } }),
  create: (opts, ctx) => new IBOT(opts, ctx),
});
