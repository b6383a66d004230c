/**
 * MoCo v3: a momentum encoder without a queue; symmetric InfoNCE against the other view's
 * momentum key, in-batch negatives; written for ViTs, with random patch projection for stability.
 *
 * Chen, Xie, He, "An Empirical Study of Training Self-Supervised Vision Transformers", ICCV 2021.
 * https://arxiv.org/abs/2104.02057
 *
 *   q_v = h(g(f(x_v)))           backbone, projector (3 layers, BN), predictor (2 layers, BN)
 *   k_v = g_m(f_m(x_v))          momentum backbone + projector, no gradient
 *   loss = mocoV3Loss(q1, q2, k1, k2; t) = 2t (ctr(q1, k2) + ctr(q2, k1))    (losses/moco-v3.ts)
 *   after the step: theta_m <- m theta_m + (1 - m) theta, m from m_base to 1 by a cosine
 *
 * Random patch projection (section 4.2): the ViT's patch embedding stays at its random
 * initialisation (`freezePatchEmbedding`), which the paper found removes the training
 * instability ("dips") of ViTs; only for a backbone with a patch embedding (vit-tiny).
 *
 * Paper defaults (ImageNet, ViT-B) beside ours (digits):
 *   projector 4096 hidden -> 256, 3 layers    ours 512 -> 128, 3 layers (BN, last BN without affine)
 *   predictor 4096 hidden, 2 layers           ours 512
 *   t = 0.2                                   same
 *   m_base 0.99 (ViT), 0.996 (ResNet)         0.99, cosine to 1
 *   patch embedding frozen (ViT)              option, off by default (on in the paper's ViT runs)
 */
import {
  cosineMomentum,
  defaultBackboneFor,
  defineMethod,
  embeddingStd,
  MethodBase,
  projectorWidthOptions,
  projectorWidths,
  type StepContext,
  type StepResult,
  type TrainBatch,
  tf,
  twoViews,
} from "@selfsup/core";
import { z } from "zod";
import { mocoV3Loss, mocoV3LossOptions } from "../losses/moco-v3.js";

export const mocoV3MethodOptions = z.object({
  ...projectorWidthOptions({ hiddenDim: 4096, outputDim: 256 }, { predictor: true }),
  temperature: mocoV3LossOptions.shape.temperature,
  baseMomentum: z
    .number()
    .min(0)
    .max(1)
    .default(0.99)
    .describe("momentum at step 0, cosine to 1 (MoCo v3: 0.99 ViT, 0.996 ResNet)"),
  freezePatchEmbedding: z
    .boolean()
    .default(false)
    .describe(
      "random patch projection: keep the ViT's patch embedding at its initialisation (MoCo v3's ViT runs: on)",
    ),
});
export type MoCoV3Options = z.output<typeof mocoV3MethodOptions>;

export class MoCoV3 extends MethodBase<MoCoV3Options> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({
    layers: 3,
    batchNorm: true,
    lastBatchNorm: true,
    ...projectorWidths(this.options),
  });
  readonly predictor = this.addPredictor(this.options.projectorHiddenDim);
  readonly momentum = this.addMomentumEncoder("momentum");
  /** The frozen patch embedding's variables (random patch projection), or none. */
  readonly frozen: ReadonlySet<tf.Variable> = this.frozenPatchEmbedding();

  private frozenPatchEmbedding(): ReadonlySet<tf.Variable> {
    if (!this.options.freezePatchEmbedding) return new Set();
    const patchEmbed = (this.backbone as { patchEmbed?: { trainableVariables(): tf.Variable[] } }).patchEmbed;
    if (!patchEmbed)
      throw new Error(
        "moco-v3: freezePatchEmbedding (random patch projection) needs a backbone with a patch embedding (vit-tiny); this backbone has none",
      );
    return new Set(patchEmbed.trainableVariables());
  }

  override trainableVariables(): tf.Variable[] {
    return super.trainableVariables().filter((v) => !this.frozen.has(v));
  }

  momentumAt(step: number, totalSteps: number): number {
    return cosineMomentum(step, totalSteps, this.options.baseMomentum);
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    const n = v1.shape[0] as number;
    const m = this.momentumAt(ctx.step, ctx.totalSteps);
    const keys = tf.tidy(() => this.momentum.embed(tf.concat([v1, v2], 0)));
    const [k1, k2] = tf.split(keys, [n, n], 0) as [tf.Tensor, tf.Tensor];
    let result: StepResult;
    try {
      result = ctx.minimize(() => {
        const zs = this.embed(tf.concat([v1, v2], 0));
        const qs = this.predictor.forward(zs);
        const [q1, q2] = tf.split(qs, [n, n], 0) as [tf.Tensor, tf.Tensor];
        const loss = mocoV3Loss(q1, q2, k1, k2, { temperature: this.options.temperature });
        return { loss, metrics: { momentum: tf.scalar(m), embeddingStd: embeddingStd(zs) } };
      });
    } finally {
      tf.dispose([keys, k1, k2]);
    }
    this.momentum.update(m);
    return result;
  }
}

export const mocoV3Method = defineMethod({
  name: "moco-v3",
  description:
    "MoCo v3: momentum encoder, projector and predictor, symmetric InfoNCE with in-batch negatives (t = 0.2), no queue; random patch projection for ViT (Chen, Xie, He 2021)",
  family: "contrastive",
  paper: {
    title: "An Empirical Study of Training Self-Supervised Vision Transformers",
    url: "https://arxiv.org/abs/2104.02057",
  },
  inputs: ["image"],
  options: mocoV3MethodOptions,
  tinyOptions: { projectorHiddenDim: 16, projectorOutputDim: 8 },
  composable: false, // the momentum encoder's EMA updates after each step
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new MoCoV3(opts, ctx),
});
