/**
 * NNCLR's loss: InfoNCE whose positive for one view is the nearest neighbour of the other view's
 * embedding in a support set.
 *
 * Dwibedi, Aytar, Tompson, Sermanet, Zisserman, "With a Little Help from My Friends: Nearest-
 * Neighbor Contrastive Learning of Visual Representations", ICCV 2021.
 * https://arxiv.org/abs/2104.14548 (Eq. 2-3).
 *
 * Embeddings z1, z2 [N, D] of two views, predictions p1, p2 [N, D] (the predictor on z; p = z
 * without one), a support set Q [M, D]; every vector L2-normalised first:
 *
 *   NN(z, Q) = argmax_{q in Q} z . q                      (no gradient: a row of the support set)
 *   L(z, p) = (1/N) sum_i [ -NN(z_i) . p_i / t + log sum_k exp(NN(z_i) . p_k / t) ]
 *   loss = ( L(z1, p2) + L(z2, p1) ) / 2                  symmetric (Eq. 3)
 *
 * The nearest neighbour is taken as a one-hot row selection (a matmul with Q) of the argmax over
 * stop-gradient similarities: the choice is piecewise constant in z (no gradient through it, which
 * is also its true derivative), the selected row's value is a function of Q (the loss's exact
 * gradient w.r.t. Q, which NNCLR never applies: its support set is state, not a trained variable),
 * and it needs only matmul kernels, on every backend.
 */
import { defineLoss, l2Normalize, stopGradient, tf } from "@selfsup/core";
import { z } from "zod";
import { infoNCELoss } from "./info-nce.js";
import { assertPair, lossOptions, requireInput } from "./inputs.js";

export const nnclrLossOptions = z.object({
  temperature: z.number().positive("must be > 0").default(0.1).describe("softmax temperature t (NNCLR: 0.1)"),
});
export type NNCLRLossOptions = z.input<typeof nnclrLossOptions>;

/** The nearest neighbour (cosine) of each row of z [N, D] among the rows of Q [M, D], normalised. */
export function nearestNeighbours(z: tf.Tensor, support: tf.Tensor): tf.Tensor2D {
  if (support.rank !== 2 || support.shape[1] !== z.shape[1])
    throw new Error(`nearestNeighbours: the support set must be [M, ${z.shape[1]}], got [${support.shape}]`);
  return tf.tidy(() => {
    const q = l2Normalize(support);
    const sim = tf.matMul(stopGradient(l2Normalize(z)), q, false, true); // [N, M]
    const pick = tf.oneHot(tf.argMax(sim, 1), support.shape[0] as number);
    return tf.matMul(tf.cast(pick, "float32"), q) as tf.Tensor2D;
  });
}

export function nnclrLoss(
  z1: tf.Tensor,
  z2: tf.Tensor,
  p1: tf.Tensor,
  p2: tf.Tensor,
  support: tf.Tensor,
  opts: NNCLRLossOptions = {},
): tf.Scalar {
  const { temperature } = lossOptions("nnclrLoss", nnclrLossOptions, opts);
  assertPair("nnclrLoss", z1, z2);
  assertPair("nnclrLoss", p1, p2);
  return tf.tidy(() => {
    const a = infoNCELoss(nearestNeighbours(z1, support), p2, null, { temperature });
    const b = infoNCELoss(nearestNeighbours(z2, support), p1, null, { temperature });
    return tf.div(tf.add(a, b), 2) as tf.Scalar;
  });
}

export const nnclrLossSpec = defineLoss({
  name: "nnclr",
  description:
    "NNCLR (Dwibedi et al. 2021): InfoNCE with the support-set nearest neighbour of one view's embedding as the positive of the other view's prediction, symmetric. Inputs: p1 [N,D], p2 [N,D], support [M,D] (z = p).",
  options: nnclrLossOptions,
  create:
    (opts) =>
    (...inputs) => {
      const usage = "loss(p1, p2, support?)";
      const p1 = requireInput("nnclr", inputs, 0, "p1", usage);
      const p2 = requireInput("nnclr", inputs, 1, "p2", usage);
      // without a support set the batch is its own (each embedding's neighbour is itself)
      const support = inputs[2] ?? tf.concat([p1, p2], 0);
      try {
        return nnclrLoss(p1, p2, p1, p2, support, opts);
      } finally {
        if (inputs[2] == null) support.dispose();
      }
    },
});
