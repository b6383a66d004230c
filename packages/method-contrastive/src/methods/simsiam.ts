/**
 * SimSiam: a Siamese network with a predictor and a stop-gradient, no negatives, no momentum encoder.
 *
 * Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021.
 * https://arxiv.org/abs/2011.10566
 *
 *   z = g(f(x))      backbone + projector (3 layers, BN on every layer including the output)
 *   p = h(z)         predictor, a bottleneck MLP (Linear, BN, ReLU, Linear)
 *   D(p, z) = -cos(p, z)
 *   loss = D(p1, stopgrad(z2)) / 2 + D(p2, stopgrad(z1)) / 2
 *
 * Both branches share the weights; the stop-gradient is what prevents collapse (section 4.1), so
 * each view is encoded once and its projection enters the other view's term through
 * `stopGradient` (zero gradient), which gives exactly the gradients of the paper's `.detach()`.
 *
 * Paper defaults (ImageNet): ResNet-50, projector 2048-2048-2048, predictor 2048 -> 512 -> 2048,
 * SGD lr 0.05 * batch / 256 (the predictor's lr is not decayed). CIFAR: 2-layer projector.
 * Defaults here: projector 512-512 (2 layers, as for CIFAR), predictor 512 -> 128 -> 512.
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
  tf,
} from "@selfsup/core";
import { z } from "zod";
import { negativeCosineSimilarity } from "../losses/negative-cosine.js";
import { stopGradient } from "../stop-gradient.js";
import { contrastiveAugmentation, defaultImageBackbone } from "./defaults.js";
import { embeddingStd } from "./embedding-std.js";
import { buildPredictor, buildProjector } from "./projector.js";
import { twoViews } from "./views.js";

export const simsiamMethodOptions = z.object({
  projectorDim: z
    .number()
    .int()
    .positive()
    .default(512)
    .describe("width of the projector's layers and output (paper: 2048)"),
  projectorLayers: z
    .number()
    .int()
    .min(1)
    .max(4)
    .default(2)
    .describe("Linear layers of the projector (paper: 3 on ImageNet, 2 on CIFAR)"),
  predictorHiddenDim: z
    .number()
    .int()
    .positive()
    .default(128)
    .describe("bottleneck of the predictor (paper: 512)"),
});
export type SimSiamOptions = z.output<typeof simsiamMethodOptions>;

export class SimSiam implements Method {
  readonly name = "simsiam";
  readonly views = 2;
  readonly backbone: FeatureModule;
  readonly projector: FeatureModule;
  readonly predictor: FeatureModule;

  constructor(
    readonly options: SimSiamOptions,
    ctx: MethodBuildContext,
  ) {
    const d = options.projectorDim;
    this.backbone = ctx.buildBackbone();
    this.projector = buildProjector(ctx, this.backbone.outputDim, {
      layers: options.projectorLayers,
      hiddenDim: d,
      outputDim: d,
      batchNorm: true,
      lastBatchNorm: true,
    });
    this.predictor = buildPredictor(ctx, d, options.predictorHiddenDim);
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    return ctx.minimize(() => {
      const z1 = this.projector.forward(this.backbone.forward(v1));
      const z2 = this.projector.forward(this.backbone.forward(v2));
      const p1 = this.predictor.forward(z1);
      const p2 = this.predictor.forward(z2);
      const loss = tf.mul(
        0.5,
        tf.add(
          negativeCosineSimilarity(p1, stopGradient(z2)),
          negativeCosineSimilarity(p2, stopGradient(z1)),
        ),
      ) as tf.Scalar;
      return { loss, metrics: { embeddingStd: embeddingStd(z1) } };
    });
  }

  encoder(): FeatureModule {
    return this.backbone;
  }

  modules(): Record<string, Module> {
    return { backbone: this.backbone, projector: this.projector, predictor: this.predictor };
  }

  trainableVariables(): tf.Variable[] {
    return [
      ...this.backbone.trainableVariables(),
      ...this.projector.trainableVariables(),
      ...this.predictor.trainableVariables(),
    ];
  }

  defaultAugmentation(input: InputSpec) {
    return contrastiveAugmentation(input);
  }

  dispose(): void {
    for (const m of Object.values(this.modules())) m.dispose();
  }
}

export const simsiamMethod = defineMethod({
  name: "simsiam",
  description:
    "SimSiam: shared encoder, predictor and stop-gradient, symmetric negative cosine, no negatives (Chen & He 2021)",
  family: "contrastive",
  paper: {
    title: "Exploring Simple Siamese Representation Learning",
    url: "https://arxiv.org/abs/2011.10566",
  },
  inputs: ["image"],
  options: simsiamMethodOptions,
  defaultBackbone: defaultImageBackbone,
  create: (opts, ctx) => new SimSiam(opts, ctx),
});
