/**
 * NT-Xent, the normalized temperature-scaled cross-entropy of SimCLR.
 *
 * Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive Learning of Visual
 * Representations", ICML 2020. https://arxiv.org/abs/2002.05709 (Eq. 1 and Algorithm 1).
 *
 * Given two views' embeddings z1, z2 of shape [N, D], stack them into 2N samples
 * u = l2normalize([z1; z2]) and let s_ij = u_i . u_j / t (cosine similarity over temperature).
 * Sample i's positive is p(i) = (i + N) mod 2N, the other view of the same image; the remaining
 * 2N - 2 samples are its negatives. With self-similarity excluded,
 *
 *   l_i  = -s_{i,p(i)} + log sum_{j != i} exp(s_ij)
 *   loss = (1 / 2N) sum_i l_i
 *
 * Self-similarity is excluded by adding a large negative number (-1e9) to s_ii, and the
 * log-sum-exp subtracts the row maximum, so the loss stays finite in fp32 for small temperatures
 * (t = 0.01 gives logits up to 100) and for embeddings of any scale (they are normalized first).
 *
 * Usage:
 *   const loss = ntXentLoss(projector(backbone(view1)), projector(backbone(view2)), { temperature: 0.5 });
 */
import { defineLoss, l2Normalize, tf } from "@selfsup/core";
import { z } from "zod";
import { assertPair, lossOptions, requireInput } from "./inputs.js";

/** Options of ntXentLoss / the "nt-xent" spec; their defaults live here only. */
export const ntXentOptions = z.object({
  temperature: z
    .number()
    .positive("must be > 0")
    .default(0.5)
    .describe("softmax temperature t > 0 (SimCLR: 0.5 for CIFAR-sized images, 0.1 to 0.2 for ImageNet)"),
});
export type NTXentOptions = z.input<typeof ntXentOptions>;

/** Added to the self-similarity logits so that they drop out of the softmax. */
export const SELF_SIMILARITY_MASK = -1e9;

export function ntXentLoss(z1: tf.Tensor, z2: tf.Tensor, opts: NTXentOptions = {}): tf.Scalar {
  const { temperature } = lossOptions("ntXentLoss", ntXentOptions, opts);
  assertPair("ntXentLoss", z1, z2, 1);
  const n = z1.shape[0] as number;
  return tf.tidy(() => {
    const u = l2Normalize(tf.concat([z1, z2], 0)); // [2N, D]
    const logits = tf.div(tf.matMul(u, u, false, true), temperature); // [2N, 2N]
    const self = tf.cast(tf.eye(2 * n), "bool");
    const masked = tf.where(self, tf.fill([2 * n, 2 * n], SELF_SIMILARITY_MASK), logits);
    const positiveIndex = tf.tensor1d(
      Array.from({ length: 2 * n }, (_, i) => (i + n) % (2 * n)),
      "int32",
    );
    const positive = tf.sum(tf.mul(masked, tf.oneHot(positiveIndex, 2 * n)), 1); // [2N]
    return tf.mean(tf.sub(tf.logSumExp(masked, 1), positive)) as tf.Scalar;
  });
}

export const ntXentLossSpec = defineLoss({
  name: "nt-xent",
  description:
    "SimCLR's normalized temperature-scaled cross-entropy over 2N views (Chen et al. 2020). Inputs: z1 [N,D], z2 [N,D].",
  options: ntXentOptions,
  create:
    (opts) =>
    (...inputs) =>
      ntXentLoss(
        requireInput("nt-xent", inputs, 0, "z1", "loss(z1, z2)"),
        requireInput("nt-xent", inputs, 1, "z2", "loss(z1, z2)"),
        opts,
      ),
});
