/**
 * BYOL: an online network predicts a slowly moving target network's projection of another view.
 *
 * Grill et al., "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
 * NeurIPS 2020. https://arxiv.org/abs/2006.07733
 *
 *   online:  y = f_theta(x), z = g_theta(y), p = q_theta(z)     backbone, projector, predictor
 *   target:  z' = g_xi(f_xi(x'))                                EMA of backbone + projector
 *   L(v, v') = || p/|p| - z'/|z'| ||^2 = 2 - 2 cos(p, z')      (= 2 + 2 * negative cosine)
 *   loss = L(v1, v2) + L(v2, v1)                                symmetric, target without gradient
 *   after the optimizer step:  xi <- tau xi + (1 - tau) theta,
 *   tau_k = 1 - (1 - tau_base) (cos(pi k / K) + 1) / 2         from tau_base to 1 over K = totalSteps
 *
 * The target is computed outside `ctx.minimize` (no gradient path) and its parameters are marked
 * non-trainable; only the EMA moves them.
 *
 * Paper defaults (ImageNet): ResNet-50, projector and predictor 4096 -> 256 (Linear, BN, ReLU,
 * Linear), tau_base = 0.996, LARS, batch 4096, ~300k steps. Defaults here: projector and predictor
 * 512 -> 128, and tau_base chosen from the run's length (`autoBaseMomentum`):
 *
 *   tau_base = clamp(1 - 125 / K, 0.9, 0.996)        K = total steps
 *
 * i.e. the paper's 0.996 from 31k steps on, and a target that follows the online network more
 * closely in short runs, where a slow target holds learning back: on the MNIST bench (1,250 steps,
 * convnet, AdamW) tau_base 0.996 / 0.99 / 0.95 / 0.9 gave kNN 73.4 / - / 77.5 / 78.4% and a
 * 10-label probe (old probe L2) 68.1 / 69.0 / 71.3 / 72.2%. The paper's ablation (Table 5b) trains
 * for any tau_base in [0.9, 0.999]; 0.9 is the bound here.
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
import { negativeCosineSimilarity } from "../losses/negative-cosine.js";

export const byolMethodOptions = z.object({
  ...projectorWidthOptions({ hiddenDim: 4096, outputDim: 256 }, { predictor: true }),
  baseMomentum: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe(
      "tau_base of the target EMA, raised to 1 by a cosine schedule (default: from the run's length, clamp(1 - 125 / steps, 0.9, 0.996); paper: 0.996)",
    ),
});
export type BYOLOptions = z.output<typeof byolMethodOptions>;

/** BYOL's default tau_base for a run of `totalSteps`: clamp(1 - 125 / K, 0.9, 0.996) (see above). */
export function autoBaseMomentum(totalSteps: number): number {
  if (!(totalSteps > 0)) return 0.996;
  return Math.min(0.996, Math.max(0.9, 1 - 125 / totalSteps));
}

export class BYOL extends MethodBase<BYOLOptions> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({ layers: 2, batchNorm: true, ...projectorWidths(this.options) });
  readonly predictor = this.addPredictor(this.options.projectorHiddenDim);
  /** The target network; its `embed` is a view's target projection (call outside the tape). */
  readonly target = this.addMomentumEncoder("target");

  /** The target decay tau at a step (cosine from baseMomentum, or the length's default, to 1). */
  momentumAt(step: number, totalSteps: number): number {
    return cosineMomentum(step, totalSteps, this.options.baseMomentum ?? autoBaseMomentum(totalSteps));
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    const tau = this.momentumAt(ctx.step, ctx.totalSteps);
    const t1 = this.target.embed(v1);
    const t2 = this.target.embed(v2);
    let result: StepResult;
    try {
      result = ctx.minimize(() => {
        const z1 = this.embed(v1);
        const z2 = this.embed(v2);
        const p1 = this.predictor.forward(z1);
        const p2 = this.predictor.forward(z2);
        // 2 - 2 cos(p, z') = 2 + 2 D(p, z'), for both directions
        const loss = tf.add(
          tf.add(2, tf.mul(2, negativeCosineSimilarity(p1, t2))),
          tf.add(2, tf.mul(2, negativeCosineSimilarity(p2, t1))),
        ) as tf.Scalar;
        return { loss, metrics: { momentum: tf.scalar(tau), embeddingStd: embeddingStd(z1) } };
      });
    } finally {
      tf.dispose([t1, t2]);
    }
    this.target.update(tau);
    return result;
  }
}

export const byolMethod = defineMethod({
  name: "byol",
  description:
    "BYOL: online network predicts an EMA target's projection, symmetric 2 - 2cos loss, no negatives (Grill et al. 2020)",
  family: "contrastive",
  paper: {
    title: "Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
    url: "https://arxiv.org/abs/2006.07733",
  },
  inputs: ["image"],
  options: byolMethodOptions,
  tinyOptions: { projectorHiddenDim: 16, projectorOutputDim: 8 },
  composable: false, // the target network's EMA updates after each step
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new BYOL(opts, ctx),
});
