/**
 * Barlow Twins: make the cross-correlation of two views' embeddings close to the identity.
 *
 * Zbontar, Jing, Misra, LeCun, Deny, "Barlow Twins: Self-Supervised Learning via Redundancy
 * Reduction", ICML 2021. https://arxiv.org/abs/2103.03230
 *
 *   z = g(f(x))   backbone + projector (Linear, BN, ReLU) x 2, then Linear
 *   loss = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2,  C the batch-standardized
 *          cross-correlation of z1 and z2 (see ../losses/barlow-twins.ts)
 *
 * Each view goes through the network as its own batch (BatchNorm statistics per view), as in the
 * official code. No negatives, no predictor, no momentum encoder, no stop-gradient.
 *
 * Paper defaults (ImageNet): ResNet-50, projector 8192-8192-8192, lambda = 5e-3, LARS, batch 2048.
 * The loss benefits from a wide projector (the paper's Fig. 4); for the small convnet (128-d
 * features) the defaults here are 512-512-512 with the same lambda.
 */
import {
  defaultBackboneFor,
  defineMethod,
  MethodBase,
  projectorWidths,
  type StepContext,
  type StepResult,
  sizeOption,
  type TrainBatch,
  tf,
  twoViews,
} from "@selfsup/core";
import { z } from "zod";
import { barlowTwinsLoss, barlowTwinsOptions, crossCorrelation } from "../losses/barlow-twins.js";

export const barlowTwinsMethodOptions = z.object({
  projectorDim: sizeOption(512, "width of the projector's 3 layers", 8192),
  lambda: barlowTwinsOptions.shape.lambda,
});
export type BarlowTwinsMethodOptions = z.output<typeof barlowTwinsMethodOptions>;

export class BarlowTwins extends MethodBase<BarlowTwinsMethodOptions> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({ layers: 3, batchNorm: true, ...projectorWidths(this.options) });

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    return ctx.minimize(() => {
      const z1 = this.embed(v1);
      const z2 = this.embed(v2);
      const loss = barlowTwinsLoss(z1, z2, { lambda: this.options.lambda });
      const onDiagonal = tf.tidy(() => {
        const c = crossCorrelation(z1, z2);
        return tf.mean(tf.sum(tf.mul(c, tf.eye(c.shape[0])), 1)) as tf.Scalar;
      });
      return { loss, metrics: { meanDiagonal: onDiagonal } };
    });
  }
}

export const barlowTwinsMethod = defineMethod({
  name: "barlow-twins",
  description:
    "Barlow Twins: cross-correlation of two views' embeddings pushed to the identity (Zbontar et al. 2021)",
  family: "contrastive",
  paper: {
    title: "Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
    url: "https://arxiv.org/abs/2103.03230",
  },
  inputs: ["image"],
  options: barlowTwinsMethodOptions,
  tinyOptions: { projectorDim: 8 },
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new BarlowTwins(opts, ctx),
});
