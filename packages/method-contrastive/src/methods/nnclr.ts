/**
 * NNCLR: nearest-neighbour contrastive learning. The positive of one view is the nearest
 * neighbour of the other view's embedding in a support set (a FIFO queue of past embeddings),
 * which brings semantic variation that no augmentation gives.
 *
 * Dwibedi, Aytar, Tompson, Sermanet, Zisserman, "With a Little Help from My Friends: Nearest-
 * Neighbor Contrastive Learning of Visual Representations", ICCV 2021.
 * https://arxiv.org/abs/2104.14548
 *
 *   z_v = g(f(x_v)),  p_v = h(z_v)              backbone, projector, predictor
 *   loss = nnclrLoss(z1, z2, p1, p2, Q; t)      symmetric InfoNCE, positives NN(z, Q) (losses/nnclr.ts)
 *   after the step: enqueue z1 (normalised) into Q, overwriting the oldest rows
 *
 * The support set and its pointer are method state: saved in checkpoints, so a resumed run uses the
 * same neighbours. It starts as random unit vectors (as lightly's memory bank), so the first
 * `supportSetSize / batch` steps' neighbours are noise until real embeddings fill it.
 *
 * Paper defaults (ImageNet) beside ours (digits):
 *   support set 98,304                      ours 4096 (must hold at least one batch)
 *   projector 3 layers 2048 -> 256 with BN  ours 2 layers 512 -> 128 with BN (as our SimCLR)
 *   predictor 4096 hidden                   ours 512
 *   temperature 0.1                         same
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
  sizeOption,
  type TrainBatch,
  tf,
  twoViews,
} from "@selfsup/core";
import { z } from "zod";
import { nnclrLoss, nnclrLossOptions } from "../losses/nnclr.js";
import { createKeyQueue, enqueueKeys } from "./key-queue.js";

export const nnclrMethodOptions = z.object({
  ...projectorWidthOptions({ hiddenDim: "2048 / 4096", outputDim: 256 }, { predictor: true }),
  supportSetSize: sizeOption(4096, "embeddings in the support set; at least the batch size", "98,304"),
  temperature: nnclrLossOptions.shape.temperature,
});
export type NNCLROptions = z.output<typeof nnclrMethodOptions>;

/** The support set must hold a whole batch (each step enqueues one); the message names the fix. */
export function supportSetProblem(supportSetSize: number, batchSize: number): string | undefined {
  return batchSize > supportSetSize
    ? `nnclr: the support set (supportSetSize ${supportSetSize}) is smaller than the batch (${batchSize}); each step enqueues a whole batch, so use supportSetSize >= ${batchSize} (--set method.options.supportSetSize=${Math.max(4096, batchSize)}) or a smaller batch`
    : undefined;
}

export class NNCLR extends MethodBase<NNCLROptions> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({ layers: 2, batchNorm: true, ...projectorWidths(this.options) });
  readonly predictor = this.addPredictor(this.options.projectorHiddenDim);
  readonly support = createKeyQueue(
    this.options.supportSetSize,
    this.options.projectorOutputDim,
    this.ctx.rng,
  );
  readonly supportKeys = this.stateVariable("support", this.support.keys);
  readonly supportPointer = this.stateVariable("supportPointer", this.support.pointer);

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [v1, v2] = twoViews(batch, this.name);
    const n = v1.shape[0] as number;
    const problem = supportSetProblem(this.options.supportSetSize, n);
    if (problem) throw new Error(problem);
    let z1Kept: tf.Tensor | undefined;
    const result = ctx.minimize(() => {
      const zs = this.embed(tf.concat([v1, v2], 0));
      const [z1, z2] = tf.split(zs, [n, n], 0) as [tf.Tensor, tf.Tensor];
      const ps = this.predictor.forward(zs);
      const [p1, p2] = tf.split(ps, [n, n], 0) as [tf.Tensor, tf.Tensor];
      const loss = nnclrLoss(z1, z2, p1, p2, this.support.keys, { temperature: this.options.temperature });
      z1Kept = tf.keep(l2Normalize(z1));
      return { loss, metrics: { embeddingStd: embeddingStd(zs) } };
    });
    if (z1Kept) {
      enqueueKeys(this.support, z1Kept);
      z1Kept.dispose();
    }
    return result;
  }
}

export const nnclrMethod = defineMethod({
  name: "nnclr",
  description:
    "NNCLR: the nearest neighbour of one view's embedding in a support set is the other view's positive, symmetric InfoNCE (Dwibedi et al. 2021)",
  family: "contrastive",
  paper: {
    title:
      "With a Little Help from My Friends: Nearest-Neighbor Contrastive Learning of Visual Representations",
    url: "https://arxiv.org/abs/2104.14548",
  },
  inputs: ["image"],
  options: nnclrMethodOptions,
  tinyOptions: { projectorHiddenDim: 16, projectorOutputDim: 8, supportSetSize: 64 },
  composable: false, // the support set is updated after each step
  checkRun: (opts, run) => {
    const problem = supportSetProblem(opts.supportSetSize, run.batchSize);
    return problem ? [problem] : [];
  },
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new NNCLR(opts, ctx),
});
