/**
 * iBOT's masked-image-modelling loss: self-distillation on the patch tokens, the online (EMA)
 * teacher acting as the tokenizer.
 *
 * Zhou, Wei, Wang, Shen, Xie, Yuille, Kong, "iBOT: Image BERT Pre-Training with Online Tokenizer",
 * ICLR 2022. https://arxiv.org/abs/2111.07832 (Eq. 1-3; the reference code's `iBOTLoss`).
 *
 * For one global view: the student sees the view with the masked patches replaced by a mask token
 * and gives patch logits s [B, N, K]; the teacher sees the same view unmasked and gives t [B, N, K],
 * centred by its own patch centre c2 [1, K] and sharpened by tau_t':
 *
 *   P_t[b, i] = softmax((t[b, i] - c2) / tau_t'),   log P_s[b, i] = log_softmax(s[b, i] / tau_s)
 *   h[b, i]   = - sum_k P_t[b, i, k] log P_s[b, i, k]
 *   L_MIM     = (1/B) sum_b  sum_i m[b, i] h[b, i] / max(1, sum_i m[b, i])
 *
 * on the masked patches only (m = 1 masked). With G global views the MIM loss is the mean over the
 * views (each view against its own unmasked teacher view), and iBOT's total is
 *
 *   loss = lambda1 * L_[CLS] + lambda2 * L_MIM      (L_[CLS] = DINO's loss, losses/dino.ts)
 *
 * with lambda1 = lambda2 = 1 in the paper. A sample with no masked patch adds 0 (the reference's
 * clamp), so an unmasked batch has L_MIM = 0.
 */
import { defineLoss, tf } from "@selfsup/core";
import type { z } from "zod";
import { dinoLossOptions, teacherDistribution } from "./dino.js";
import { lossOptions, requireInput } from "./inputs.js";

/** Options of ibotPatchCrossEntropy / ibotPatchLoss / the "ibot-patch" spec (DINO's temperatures). */
export const ibotPatchLossOptions = dinoLossOptions;
export type IBOTPatchLossOptions = z.input<typeof ibotPatchLossOptions>;

function assertPatches(loss: string, student: tf.Tensor, teacher: tf.Tensor, mask: tf.Tensor | null): void {
  if (student.rank !== 3 || teacher.rank !== 3 || student.shape.join() !== teacher.shape.join())
    throw new Error(
      `${loss}: expects student and teacher patch logits of the same shape [B, N, K], got [${student.shape}] and [${teacher.shape}]`,
    );
  if (mask && (mask.rank !== 2 || mask.shape[0] !== student.shape[0] || mask.shape[1] !== student.shape[1]))
    throw new Error(
      `${loss}: the mask must be [B, N] = [${student.shape[0]}, ${student.shape[1]}] (1 = masked), got [${mask.shape}]`,
    );
}

/**
 * L_MIM of one view (see the module comment): student and teacher patch logits [B, N, K], the
 * mask [B, N] (1 = masked; null: every patch counts), the teacher's patch centre [1, K] or null.
 */
export function ibotPatchCrossEntropy(
  student: tf.Tensor,
  teacher: tf.Tensor,
  mask: tf.Tensor | null = null,
  center: tf.Tensor | null = null,
  opts: IBOTPatchLossOptions = {},
): tf.Scalar {
  const o = lossOptions("ibotPatchCrossEntropy", ibotPatchLossOptions, opts);
  assertPatches("ibotPatchCrossEntropy", student, teacher, mask);
  const [b, n, k] = student.shape as [number, number, number];
  return tf.tidy(() => {
    const pt = teacherDistribution(tf.reshape(teacher, [b * n, k]), center, o.teacherTemperature);
    const logPs = tf.logSoftmax(tf.div(tf.reshape(student, [b * n, k]), o.studentTemperature));
    const h = tf.reshape(tf.neg(tf.sum(tf.mul(pt, logPs), 1)), [b, n]);
    if (!mask) return tf.mean(h) as tf.Scalar;
    const m = tf.cast(mask, "float32");
    const perSample = tf.div(tf.sum(tf.mul(h, m), 1), tf.maximum(tf.sum(m, 1), 1));
    return tf.mean(perSample) as tf.Scalar;
  });
}

/** L_MIM over G global views: the mean of ibotPatchCrossEntropy over (student j, teacher j, mask j). */
export function ibotPatchLoss(
  student: readonly tf.Tensor[],
  teacher: readonly tf.Tensor[],
  masks: readonly tf.Tensor[],
  center: tf.Tensor | null = null,
  opts: IBOTPatchLossOptions = {},
): tf.Scalar {
  if (student.length < 1 || student.length !== teacher.length || masks.length !== student.length)
    throw new Error(
      `ibotPatchLoss: needs one student, teacher and mask per global view (got ${student.length} student, ${teacher.length} teacher, ${masks.length} masks)`,
    );
  return tf.tidy(
    () =>
      tf.div(
        tf.addN(
          student.map((s, j) => ibotPatchCrossEntropy(s, teacher[j] as tf.Tensor, masks[j], center, opts)),
        ),
        student.length,
      ) as tf.Scalar,
  );
}

export const ibotPatchLossSpec = defineLoss({
  name: "ibot-patch",
  description:
    "iBOT's masked-image-modelling loss (Zhou et al. 2022): cross-entropy of the teacher's centred, sharpened patch softmax and the student's, on masked patches only. Inputs: student [B,N,K], teacher [B,N,K], optional mask [B,N] (1 = masked), optional center [1,K].",
  options: ibotPatchLossOptions,
  create:
    (opts) =>
    (...inputs) =>
      ibotPatchCrossEntropy(
        requireInput("ibot-patch", inputs, 0, "student", "loss(student, teacher, mask?, center?)"),
        requireInput("ibot-patch", inputs, 1, "teacher", "loss(student, teacher, mask?, center?)"),
        inputs[2] ?? null,
        inputs[3] ?? null,
        opts,
      ),
});
