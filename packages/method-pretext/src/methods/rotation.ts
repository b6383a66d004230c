/**
 * RotNet: predict which of four rotations an image was turned by.
 *
 * Gidaris, Singh, Komodakis, "Unsupervised Representation Learning by Predicting Image
 * Rotations", ICLR 2018. https://arxiv.org/abs/1803.07728
 *
 *   for each image x of the batch, all four rotations r_k(x), k in {0, 90, 180, 270} degrees,
 *   go through the network in the same batch (the paper's best variant, section 3.2):
 *   h = f(r_k(x)),  logits = g(h),  loss = (1/4B) sum_{x,k} CE(logits, k)
 *
 * The labels k are built from the batch's shape inside the step, never from dataset labels.
 * Square images only (a quarter turn of a non-square image changes its shape). On digits the task
 * is ambiguous for rotation-symmetric shapes (0, 1, 8 look alike at 0 and 180 degrees; 6 and 9
 * swap), which caps its accuracy below 100% and weakens the signal somewhat.
 */
import {
  buildClassifier,
  buildProjector,
  defaultBackboneFor,
  defineMethod,
  MethodBase,
  rotate90All,
  type StepContext,
  type StepResult,
  softmaxCrossEntropy,
  type TrainBatch,
  tf,
} from "@selfsup/core";
import { z } from "zod";
import { accuracy } from "../losses.js";

export const rotationMethodOptions = z.object({
  headHiddenDim: z
    .number()
    .int()
    .min(0)
    .default(256)
    .describe("hidden width of the rotation classifier (0: a linear classifier)"),
});
export type RotationOptions = z.output<typeof rotationMethodOptions>;

/** The 4B rotated images (k = 0 for the first B, 1 for the next B, ...) and their labels k. */
export function rotationBatch(x: tf.Tensor): { images: tf.Tensor; labels: tf.Tensor1D } {
  const [b, h, w] = x.shape as [number, number, number, number];
  if (h !== w)
    throw new Error(
      `rotation: quarter turns need square images, got ${h}x${w} (crop or resize the dataset to a square)`,
    );
  return tf.tidy(() => ({
    images: tf.concat([0, 1, 2, 3].map((k) => rotate90All(x, k))),
    labels: tf.concat([0, 1, 2, 3].map((k) => tf.fill([b], k, "int32"))) as tf.Tensor1D,
  }));
}

export class Rotation extends MethodBase<RotationOptions> {
  readonly views = 0;
  readonly backbone = this.addBackbone();
  readonly head = this.module(
    "head",
    this.options.headHiddenDim > 0
      ? buildProjector(this.ctx, this.backbone.outputDim, {
          layers: 2,
          hiddenDim: this.options.headHiddenDim,
          outputDim: 4,
          batchNorm: true,
        })
      : buildClassifier(this.ctx, this.backbone.outputDim, 4),
  );

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    return ctx.minimize(() => {
      const { images, labels } = rotationBatch(batch.inputs);
      const logits = this.head.forward(this.backbone.forward(images));
      return { loss: softmaxCrossEntropy(logits, labels), metrics: { accuracy: accuracy(logits, labels) } };
    });
  }
}

export const rotationMethod = defineMethod({
  name: "rotation",
  description:
    "RotNet: each image in its 4 rotations in one batch, 4-way classification (Gidaris et al. 2018)",
  family: "pretext",
  paper: {
    title: "Unsupervised Representation Learning by Predicting Image Rotations",
    url: "https://arxiv.org/abs/1803.07728",
  },
  inputs: ["image"],
  options: rotationMethodOptions,
  tinyOptions: { headHiddenDim: 16 },
  defaultBackbone: defaultBackboneFor,
  composable: true,
  create: (opts, ctx) => new Rotation(opts, ctx),
});
