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
  defaultBackboneFor,
  defineMethod,
  embeddingStd,
  MethodBase,
  projectorWidths,
  type StepContext,
  type StepResult,
  sizeOption,
  stopGradient,
  type TrainBatch,
  tf,
  twoViews,
} from "@selfsup/core";
import { z } from "zod";
import { negativeCosineSimilarity } from "../losses/negative-cosine.js";

export const simsiamMethodOptions = z.object({
  projectorDim: sizeOption(512, "width of the projector's layers and output", 2048),
  projectorLayers: z
    .number()
    .int()
    .min(1)
    .max(4)
    .default(2)
    .describe("Linear layers of the projector (paper: 3 on ImageNet, 2 on CIFAR)"),
  predictorHiddenDim: sizeOption(128, "bottleneck of the predictor", 512),
});
export type SimSiamOptions = z.output<typeof simsiamMethodOptions>;

export class SimSiam extends MethodBase<SimSiamOptions> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({
    layers: this.options.projectorLayers,
    batchNorm: true,
    lastBatchNorm: true,
    ...projectorWidths(this.options),
  });
  readonly predictor = this.addPredictor(this.options.predictorHiddenDim);

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    return ctx.minimize(() => {
      const z1 = this.embed(v1);
      const z2 = this.embed(v2);
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
  tinyOptions: { projectorDim: 16, predictorHiddenDim: 8 },
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new SimSiam(opts, ctx),
});
