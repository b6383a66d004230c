/**
 * DINO's self-distillation loss.
 *
 * Caron, Touvron, Misra, Jégou, Mairal, Bojanowski, Joulin, "Emerging Properties in
 * Self-Supervised Vision Transformers", ICCV 2021. https://arxiv.org/abs/2104.14294 (Eq. 2-4,
 * Algorithm 1).
 *
 * Student logits s [N, K] and teacher logits t [N, K] of two different views of the same images;
 * the teacher is centred by c [1, K] (a running mean of its logits) and sharpened by a low
 * temperature:
 *
 *   P_t = softmax((t - c) / tau_t),   log P_s = log_softmax(s / tau_s)
 *   H(P_t, P_s) = (1/N) sum_n  - sum_k P_t[n, k] log P_s[n, k]
 *
 * With multi-crop (Eq. 3), teacher views are the G global crops and student views all V crops
 * (globals first, in the same order), and the loss averages H over every pair of different views:
 *
 *   loss = 1 / (G (V - 1)) * sum_{i < G} sum_{j != i} H(P_t(view i), P_s(view j))
 *
 * The teacher gets gradient here if its logits carry one; DINO computes them outside the tape (an
 * EMA teacher), so no stop-gradient is needed (and the finite-difference check of the loss spec
 * can check both inputs).
 */
import { defineLoss, tf } from "@selfsup/core";
import { z } from "zod";
import { assertPair, lossOptions, requireInput } from "./inputs.js";

/** Options of dinoCrossEntropy / dinoLoss / the "dino" spec; their defaults live here only. */
export const dinoLossOptions = z.object({
  studentTemperature: z.number().positive("must be > 0").default(0.1).describe("tau_s (DINO: 0.1)"),
  teacherTemperature: z
    .number()
    .positive("must be > 0")
    .default(0.04)
    .describe("tau_t, sharpening the teacher (DINO: 0.04 warmed up to 0.07)"),
});
export type DINOLossOptions = z.input<typeof dinoLossOptions>;

/** P_t = softmax((t - c) / tau_t): the teacher's centred, sharpened distribution [N, K]. */
export function teacherDistribution(
  teacher: tf.Tensor,
  center: tf.Tensor | null,
  temperature: number,
): tf.Tensor2D {
  return tf.tidy(
    () => tf.softmax(tf.div(center ? tf.sub(teacher, center) : teacher, temperature)) as tf.Tensor2D,
  );
}

/** H(P_t, P_s) for one (teacher view, student view) pair; see the module comment. */
export function dinoCrossEntropy(
  student: tf.Tensor,
  teacher: tf.Tensor,
  center: tf.Tensor | null = null,
  opts: DINOLossOptions = {},
): tf.Scalar {
  const o = lossOptions("dinoCrossEntropy", dinoLossOptions, opts);
  assertPair("dinoCrossEntropy", student, teacher);
  return tf.tidy(() => {
    const pt = teacherDistribution(teacher, center, o.teacherTemperature);
    const logPs = tf.logSoftmax(tf.div(student, o.studentTemperature));
    return tf.mean(tf.neg(tf.sum(tf.mul(pt, logPs), 1))) as tf.Scalar;
  });
}

/**
 * The multi-crop DINO loss over `teacher` (the G global views' teacher logits) and `student` (all
 * V views' student logits, the same G globals first): the mean of H over the G (V - 1) pairs of
 * different views.
 */
export function dinoLoss(
  student: readonly tf.Tensor[],
  teacher: readonly tf.Tensor[],
  center: tf.Tensor | null = null,
  opts: DINOLossOptions = {},
): tf.Scalar {
  if (teacher.length < 1 || student.length < 2 || teacher.length > student.length)
    throw new Error(
      `dinoLoss: needs at least 1 teacher view and 2 student views, no more teacher than student views (got ${teacher.length} teacher, ${student.length} student)`,
    );
  return tf.tidy(() => {
    const terms: tf.Scalar[] = [];
    teacher.forEach((t, i) => {
      student.forEach((s, j) => {
        if (i !== j) terms.push(dinoCrossEntropy(s, t, center, opts));
      });
    });
    return tf.div(tf.addN(terms), terms.length) as tf.Scalar;
  });
}

export const dinoLossSpec = defineLoss({
  name: "dino",
  description:
    "DINO self-distillation (Caron et al. 2021): cross-entropy of the centred, sharpened teacher softmax and the student softmax. Inputs: student [N,K], teacher [N,K], optional center [1,K].",
  options: dinoLossOptions,
  create:
    (opts) =>
    (...inputs) =>
      dinoCrossEntropy(
        requireInput("dino", inputs, 0, "student", "loss(student, teacher, center?)"),
        requireInput("dino", inputs, 1, "teacher", "loss(student, teacher, center?)"),
        inputs[2] ?? null,
        opts,
      ),
});
