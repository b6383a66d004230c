/**
 * MoCo v2: contrast each query against its key from a momentum encoder and a queue of K older keys.
 *
 * He, Fan, Wu, Xie, Girshick, "Momentum Contrast for Unsupervised Visual Representation
 * Learning", CVPR 2020. https://arxiv.org/abs/1911.05722
 * Chen, Fan, Girshick, He, "Improved Baselines with Momentum Contrastive Learning" (MoCo v2),
 * 2020. https://arxiv.org/abs/2003.04297
 *
 *   q = normalize(g_q(f_q(x_q)))        query encoder + MLP head (trained)
 *   k = normalize(g_k(f_k(x_k)))        key encoder: a momentum copy, computed outside the tape
 *   loss = InfoNCE(q, k, queue; t)      (K + 1)-way softmax, the positive at index 0
 *   after the optimizer step:
 *     enqueue k (overwriting the oldest keys, see key-queue.ts)
 *     theta_k <- m theta_k + (1 - m) theta_q
 *
 * The key encoder gets no gradient (its parameters are not trainable and its keys are computed
 * outside `ctx.minimize`); the queue and its pointer are method state, saved in checkpoints.
 * Shuffling BN is emulated on one device by normalizing sub-batches ("virtual GPUs", see
 * shuffle-bn.ts); `shuffleGroups: 1` gives the shuffle-free variant.
 *
 * Paper defaults (ImageNet, 8 GPUs, batch 256): ResNet-50, MLP head 2048 -> 2048 -> 128 without
 * BatchNorm (v2), K = 65536, m = 0.999, t = 0.07 (v1) / 0.2 (v2), SGD lr 0.03 (v2: cosine).
 * Defaults here (small images): head 512 -> 128, K = 4096, m = 0.99 (fewer steps, so a faster
 * key encoder), t = 0.07, 2 shuffle groups.
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
import { infoNCELoss, infoNCEOptions } from "../losses/info-nce.js";
import { createKeyQueue, enqueueKeys, type KeyQueue } from "./key-queue.js";
import { groupedForward } from "./shuffle-bn.js";

export const mocoMethodOptions = z.object({
  ...projectorWidthOptions({ hiddenDim: 2048, outputDim: 128 }),
  queueSize: sizeOption(4096, "K, keys in the queue", 65536),
  momentum: z.number().min(0).max(1).default(0.99).describe("m of the key encoder's EMA (paper: 0.999)"),
  temperature: infoNCEOptions.shape.temperature,
  shuffleGroups: sizeOption(2, "virtual devices of the Shuffling BN emulation (1: off)"),
});
export type MoCoOptions = z.output<typeof mocoMethodOptions>;

export class MoCo extends MethodBase<MoCoOptions> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({ layers: 2, batchNorm: false, ...projectorWidths(this.options) });
  /** The key encoder. */
  readonly momentum = this.addMomentumEncoder("momentum");
  readonly queue: KeyQueue = this.declareQueue(
    createKeyQueue(this.options.queueSize, this.options.projectorOutputDim, this.ctx.rng),
  );

  private declareQueue(queue: KeyQueue): KeyQueue {
    this.stateVariable("queue", queue.keys);
    this.stateVariable("queuePointer", queue.pointer);
    return queue;
  }

  /** Keys of a batch of views from the momentum encoder, L2-normalized; no gradient (call outside the tape). */
  keys(x: tf.Tensor, ctx?: Pick<StepContext, "rng">): tf.Tensor {
    return tf.tidy(() =>
      l2Normalize(
        groupedForward((chunk) => this.momentum.embed(chunk), x, this.options.shuffleGroups, ctx?.rng),
      ),
    );
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const [xq, xk] = twoViews(batch, this.name);
    const batchSize = xq.shape[0] as number;
    if (batchSize > this.options.queueSize) {
      throw new Error(
        `moco: queueSize (${this.options.queueSize}) must be at least the batch size (${batchSize})`,
      );
    }
    const keys = this.keys(xk, ctx);
    let result: StepResult;
    try {
      result = ctx.minimize(() => {
        const q = l2Normalize(groupedForward((chunk) => this.embed(chunk), xq, this.options.shuffleGroups));
        const loss = infoNCELoss(q, keys, this.queue.keys, {
          temperature: this.options.temperature,
          normalize: false,
        });
        const positiveSimilarity = tf.mean(tf.sum(tf.mul(q, keys), 1)) as tf.Scalar;
        return { loss, metrics: { positiveSimilarity, embeddingStd: embeddingStd(q) } };
      });
      enqueueKeys(this.queue, keys);
    } finally {
      keys.dispose();
    }
    this.momentum.update(this.options.momentum);
    return result;
  }
}

export const mocoMethod = defineMethod({
  name: "moco",
  description:
    "MoCo v2: momentum key encoder, queue of negatives, MLP head, InfoNCE (He et al. 2020; Chen et al. 2020)",
  family: "contrastive",
  paper: {
    title: "Momentum Contrast for Unsupervised Visual Representation Learning",
    url: "https://arxiv.org/abs/1911.05722",
  },
  inputs: ["image"],
  options: mocoMethodOptions,
  tinyOptions: { projectorHiddenDim: 16, projectorOutputDim: 8, queueSize: 16 },
  composable: false, // the key encoder EMA and the queue update after each step
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new MoCo(opts, ctx),
});
