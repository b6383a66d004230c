/**
 * SimCLR: contrast two augmented views of each image against every other image of the batch.
 *
 * Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning of Visual
 * Representations", ICML 2020. https://arxiv.org/abs/2002.05709
 *
 *   h = f(x)            backbone (the representation evaluators use)
 *   z = g(h)            projector: Linear -> BN -> ReLU -> Linear (2 layers)
 *   loss = NT-Xent(z1, z2; t)   over the 2N views of N images (see ../losses/nt-xent.ts)
 *
 * Both views go through the backbone as one batch of 2N, so BatchNorm sees the statistics of both
 * views together, as SimCLR's global BN does.
 *
 * Paper defaults (ImageNet): ResNet-50, projector 2048 -> 2048 -> 128, t = 0.1 (LARS, batch 4096);
 * CIFAR-10: t = 0.5, batch 512 to 1024. Defaults here (small images, small backbones): projector
 * hidden 512, output 128, t = 0.5 (the CIFAR recipe).
 */
import {
  defaultBackboneFor,
  defineMethod,
  embeddingStd,
  l2Normalize,
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
import { ntXentLoss, ntXentOptions } from "../losses/nt-xent.js";

export const simclrMethodOptions = z.object({
  ...projectorWidthOptions({ hiddenDim: 2048, outputDim: 128 }),
  temperature: ntXentOptions.shape.temperature,
});
export type SimCLROptions = z.output<typeof simclrMethodOptions>;

export class SimCLR extends MethodBase<SimCLROptions> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({ layers: 2, batchNorm: true, ...projectorWidths(this.options) });

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    const n = v1.shape[0] as number;
    return ctx.minimize(() => {
      const zs = this.embed(tf.concat([v1, v2], 0));
      const [z1, z2] = tf.split(zs, [n, n], 0) as [tf.Tensor, tf.Tensor];
      const loss = ntXentLoss(z1, z2, { temperature: this.options.temperature });
      const positiveSimilarity = tf.mean(tf.sum(tf.mul(l2Normalize(z1), l2Normalize(z2)), 1)) as tf.Scalar;
      return { loss, metrics: { positiveSimilarity, embeddingStd: embeddingStd(zs) } };
    });
  }
}

export const simclrMethod = defineMethod({
  name: "simclr",
  description: "SimCLR: two views, MLP projector, NT-Xent over the 2N views of the batch (Chen et al. 2020)",
  family: "contrastive",
  paper: {
    title: "A Simple Framework for Contrastive Learning of Visual Representations",
    url: "https://arxiv.org/abs/2002.05709",
  },
  inputs: ["image"],
  options: simclrMethodOptions,
  tinyOptions: { projectorHiddenDim: 16, projectorOutputDim: 8 },
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new SimCLR(opts, ctx),
});
