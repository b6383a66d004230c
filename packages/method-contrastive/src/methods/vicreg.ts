/**
 * VICReg: invariance between views, variance kept above a threshold, covariance decorrelated.
 *
 * Bardes, Ponce, LeCun, "VICReg: Variance-Invariance-Covariance Regularization for
 * Self-Supervised Learning", ICLR 2022. https://arxiv.org/abs/2105.04906
 *
 *   z = g(f(x))   backbone + expander (Linear, BN, ReLU) x 2, then Linear
 *   loss = 25 s(z1, z2) + 25 [v(z1) + v(z2)] / 2 + 1 [c(z1) + c(z2)]   (see ../losses/vicreg.ts)
 *
 * Each view is its own BatchNorm batch; no negatives, no stop-gradient, no momentum encoder.
 *
 * Paper defaults (ImageNet): ResNet-50, expander 8192-8192-8192, lambda = mu = 25, nu = 1, LARS,
 * batch 2048. Defaults here (small convnet): expander 512-512-512, same weights.
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
  twoViews,
} from "@selfsup/core";
import { z } from "zod";
import { vicregOptions, vicregTerms } from "../losses/vicreg.js";

export const vicregMethodOptions = z.object({
  projectorDim: sizeOption(512, "width of the expander's 3 layers", 8192),
  invarianceWeight: vicregOptions.shape.invarianceWeight,
  varianceWeight: vicregOptions.shape.varianceWeight,
  covarianceWeight: vicregOptions.shape.covarianceWeight,
});
export type VICRegMethodOptions = z.output<typeof vicregMethodOptions>;

export class VICReg extends MethodBase<VICRegMethodOptions> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({ layers: 3, batchNorm: true, ...projectorWidths(this.options) });

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    return ctx.minimize(() => {
      const z1 = this.embed(v1);
      const z2 = this.embed(v2);
      const { loss, invariance, variance, covariance } = vicregTerms(z1, z2, this.options);
      return { loss, metrics: { invariance, variance, covariance } };
    });
  }
}

export const vicregMethod = defineMethod({
  name: "vicreg",
  description:
    "VICReg: invariance MSE + variance hinge + covariance decorrelation, weights 25/25/1 (Bardes et al. 2022)",
  family: "contrastive",
  paper: {
    title: "VICReg: Variance-Invariance-Covariance Regularization for Self-Supervised Learning",
    url: "https://arxiv.org/abs/2105.04906",
  },
  inputs: ["image"],
  options: vicregMethodOptions,
  tinyOptions: { projectorDim: 16 },
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new VICReg(opts, ctx),
});
