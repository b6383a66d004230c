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
  defineMethod,
  type FeatureModule,
  type InputSpec,
  type Method,
  type MethodBuildContext,
  type Module,
  type StepContext,
  type StepResult,
  type TrainBatch,
  type tf,
} from "@selfsup/core";
import { z } from "zod";
import { vicregTerms } from "../losses/vicreg.js";
import { contrastiveAugmentation, defaultImageBackbone } from "./defaults.js";
import { buildProjector } from "./projector.js";
import { twoViews } from "./views.js";

export const vicregMethodOptions = z.object({
  projectorDim: z
    .number()
    .int()
    .positive()
    .default(512)
    .describe("width of the expander's 3 layers (paper: 8192)"),
  invarianceWeight: z.number().nonnegative().default(25).describe("lambda (paper: 25)"),
  varianceWeight: z.number().nonnegative().default(25).describe("mu (paper: 25)"),
  covarianceWeight: z.number().nonnegative().default(1).describe("nu (paper: 1)"),
});
export type VICRegMethodOptions = z.output<typeof vicregMethodOptions>;

export class VICReg implements Method {
  readonly name = "vicreg";
  readonly views = 2;
  readonly backbone: FeatureModule;
  readonly projector: FeatureModule;

  constructor(
    readonly options: VICRegMethodOptions,
    ctx: MethodBuildContext,
  ) {
    const d = options.projectorDim;
    this.backbone = ctx.buildBackbone();
    this.projector = buildProjector(ctx, this.backbone.outputDim, {
      layers: 3,
      hiddenDim: d,
      outputDim: d,
      batchNorm: true,
    });
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    return ctx.minimize(() => {
      const z1 = this.projector.forward(this.backbone.forward(v1));
      const z2 = this.projector.forward(this.backbone.forward(v2));
      const { loss, invariance, variance, covariance } = vicregTerms(z1, z2, this.options);
      return { loss, metrics: { invariance, variance, covariance } };
    });
  }

  encoder(): FeatureModule {
    return this.backbone;
  }

  modules(): Record<string, Module> {
    return { backbone: this.backbone, projector: this.projector };
  }

  trainableVariables(): tf.Variable[] {
    return [...this.backbone.trainableVariables(), ...this.projector.trainableVariables()];
  }

  defaultAugmentation(input: InputSpec) {
    return contrastiveAugmentation(input);
  }

  dispose(): void {
    this.backbone.dispose();
    this.projector.dispose();
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
  defaultBackbone: defaultImageBackbone,
  create: (opts, ctx) => new VICReg(opts, ctx),
});
