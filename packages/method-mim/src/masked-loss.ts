/**
 * Shared pieces of the masked-image methods: per-patch normalised targets, losses averaged over
 * masked patches only, and the 0/1 matrices that move tokens between the full patch sequence and
 * the visible subset with matmuls (exact, and their gradients are matmuls, which every backend has;
 * gather's gradient needs UnsortedSegmentSum, missing on wasm).
 */
import { tf } from "@selfsup/core";

/**
 * MAE's normalised pixel target (He et al. 2022, sec. 4.1 "Reconstruction target"): each patch
 * minus its mean over its values, divided by sqrt(var + eps). [B, N, P] -> [B, N, P].
 */
export function normalizePatches(patches: tf.Tensor, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(patches, -1, true);
    return tf.div(tf.sub(patches, mean), tf.sqrt(tf.add(variance, eps)));
  });
}

/**
 * The inverse of `normalizePatches` for pictures: predictions in normalised units mapped back to
 * pixels with each true patch's mean and std, as MAE's figures do. [B, N, P] -> [B, N, P].
 */
export function denormalizePatches(pred: tf.Tensor, patches: tf.Tensor, eps = 1e-6): tf.Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(patches, -1, true);
    return tf.add(tf.mul(pred, tf.sqrt(tf.add(variance, eps))), mean);
  });
}

/**
 * Mean of a per-patch loss [B, N] over the masked patches only (mask [B, N], 1 = masked):
 * sum(loss * mask) / sum(mask). A batch with no masked patch gives 0, not NaN.
 */
export function maskedMean(perPatch: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const m = tf.cast(mask, "float32");
    return tf.div(tf.sum(tf.mul(perPatch, m)), tf.maximum(tf.sum(m), 1)) as tf.Scalar;
  });
}

/**
 * For each sample, the visible (mask 0) patch indices in ascending order, as a 0/1 matrix
 * [B, V, N] (row k selects the k-th visible patch) - the order vit-tiny's "remove" mask mode keeps.
 * Every row of the mask must hide the same number of patches. Reads the mask on the host.
 */
export function visibleSelection(mask: tf.Tensor): tf.Tensor3D {
  const [b, n] = mask.shape as [number, number];
  const values = mask.dataSync();
  const rows: number[][] = [];
  for (let i = 0; i < b; i++) {
    const row: number[] = [];
    for (let j = 0; j < n; j++) if (Number(values[i * n + j]) === 0) row.push(j);
    rows.push(row);
  }
  const v = rows[0]?.length ?? 0;
  if (rows.some((r) => r.length !== v)) {
    throw new Error(
      `visibleSelection: every sample must keep the same number of patches, got [${rows.map((r) => r.length).join(", ")}]`,
    );
  }
  const out = new Float32Array(b * v * n);
  rows.forEach((row, i) => {
    row.forEach((patch, k) => {
      out[(i * v + k) * n + patch] = 1;
    });
  });
  return tf.tensor3d(out, [b, v, n]);
}

/**
 * Index lists as 0/1 selection matrices: `rows` [S][R] patch indices (every list of the same
 * length R) -> [S, R, N] with a 1 at (s, r, rows[s][r]). `select · tokens` [S, N, D] gathers those
 * tokens with a matmul (exact; its gradient is a matmul on every backend).
 */
export function indexSelection(rows: readonly (readonly number[])[], n: number): tf.Tensor3D {
  const r = rows[0]?.length ?? 0;
  const out = new Float32Array(rows.length * r * n);
  rows.forEach((row, s) => {
    if (row.length !== r)
      throw new Error(`indexSelection: every row must have ${r} indices, row ${s} has ${row.length}`);
    row.forEach((j, k) => {
      if (!(Number.isInteger(j) && j >= 0 && j < n))
        throw new Error(`indexSelection: index ${j} (row ${s}) is outside 0..${n - 1}`);
      out[(s * r + k) * n + j] = 1;
    });
  });
  return tf.tensor3d(out, [rows.length, r, n]);
}

/**
 * I-JEPA's loss in latent space (Assran et al. 2023, eq. 1): the mean over every predicted target
 * patch and feature of the squared error between prediction and target,
 *
 *   "mse":       mean_{i,j,d} (ŝ - s)²                                  the paper's L2
 *   "smooth-l1": mean_{i,j,d} (|ŝ - s| < 1 ? (ŝ - s)² / 2 : |ŝ - s| - 1/2)   the reference code's
 *                F.smooth_l1_loss (Huber, beta 1)
 *
 * `pred` and `target` have the same shape ([M·B, T, D] in I-JEPA); the target carries no gradient.
 */
export function latentRegressionLoss(
  pred: tf.Tensor,
  target: tf.Tensor,
  kind: "mse" | "smooth-l1" = "mse",
): tf.Scalar {
  if (pred.shape.join() !== target.shape.join())
    throw new Error(`latentRegressionLoss: prediction [${pred.shape}] and target [${target.shape}] differ`);
  return tf.tidy(() => {
    const diff = tf.sub(pred, target);
    if (kind === "mse") return tf.mean(tf.square(diff)) as tf.Scalar;
    const a = tf.abs(diff);
    return tf.mean(tf.where(tf.less(a, 1), tf.mul(0.5, tf.square(diff)), tf.sub(a, 0.5))) as tf.Scalar;
  });
}
