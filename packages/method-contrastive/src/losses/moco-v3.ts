/**
 * MoCo v3's contrastive loss: symmetric InfoNCE with in-batch negatives, scaled by 2t.
 *
 * Chen, Xie, He, "An Empirical Study of Training Self-Supervised Vision Transformers", ICCV 2021.
 * https://arxiv.org/abs/2104.02057 (Algorithm 1; the 2t factor is the reference code's
 * `CrossEntropyLoss()(logits, labels) * (2 * T)`, which makes the gradient scale independent of t).
 *
 * Queries q1, q2 [N, D] (predictor outputs of the two views) and keys k1, k2 [N, D] (the momentum
 * encoder's projections), all L2-normalised:
 *
 *   ctr(q, k) = (1/N) sum_i [ -q_i . k_i / t + log sum_j exp(q_i . k_j / t) ]      (info-nce, no queue)
 *   loss = 2t (ctr(q1, k2) + ctr(q2, k1))
 */
import { defineLoss, tf } from "@selfsup/core";
import { z } from "zod";
import { infoNCELoss } from "./info-nce.js";
import { lossOptions, requireInput } from "./inputs.js";

export const mocoV3LossOptions = z.object({
  temperature: z
    .number()
    .positive("must be > 0")
    .default(0.2)
    .describe("softmax temperature t (MoCo v3: 0.2)"),
});
export type MoCoV3LossOptions = z.input<typeof mocoV3LossOptions>;

export function mocoV3Loss(
  q1: tf.Tensor,
  q2: tf.Tensor,
  k1: tf.Tensor,
  k2: tf.Tensor,
  opts: MoCoV3LossOptions = {},
): tf.Scalar {
  const { temperature } = lossOptions("mocoV3Loss", mocoV3LossOptions, opts);
  return tf.tidy(
    () =>
      tf.mul(
        tf.add(infoNCELoss(q1, k2, null, { temperature }), infoNCELoss(q2, k1, null, { temperature })),
        2 * temperature,
      ) as tf.Scalar,
  );
}

export const mocoV3LossSpec = defineLoss({
  name: "moco-v3",
  description:
    "MoCo v3 (Chen, Xie, He 2021): 2t (InfoNCE(q1, k2) + InfoNCE(q2, k1)) with in-batch negatives. Inputs: q1, q2, k1, k2 [N,D].",
  options: mocoV3LossOptions,
  create:
    (opts) =>
    (...inputs) => {
      const usage = "loss(q1, q2, k1, k2)";
      return mocoV3Loss(
        requireInput("moco-v3", inputs, 0, "q1", usage),
        requireInput("moco-v3", inputs, 1, "q2", usage),
        requireInput("moco-v3", inputs, 2, "k1", usage),
        requireInput("moco-v3", inputs, 3, "k2", usage),
        opts,
      );
    },
});
