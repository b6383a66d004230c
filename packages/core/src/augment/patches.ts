/**
 * Patch ops for ViT-style models: an image batch [B,H,W,C] as a sequence of flattened
 * non-overlapping p x p patches [B,N,p*p*C], N = (H/p)(W/p), patches in row-major order and each
 * patch's values in (row, column, channel) order, as MAE's `patchify` (He et al. 2022).
 */
import { tf } from "../tf.js";
import { imageShape } from "./util.js";

/** [B,H,W,C] -> [B,N,p*p*C]. H and W must be multiples of p. */
export function toPatches(x: tf.Tensor, patchSize: number): tf.Tensor3D {
  const [b, h, w, c] = imageShape(x, "toPatches");
  const p = patchSize;
  if (!Number.isInteger(p) || p <= 0 || h % p !== 0 || w % p !== 0) {
    throw new Error(
      `toPatches: a ${h}x${w} image does not split into ${p}x${p} patches (H and W must be multiples of p)`,
    );
  }
  const gh = h / p;
  const gw = w / p;
  return tf.tidy(() => {
    const six = tf.reshape(x, [b, gh, p, gw, p, c]);
    return tf.reshape(tf.transpose(six, [0, 1, 3, 2, 4, 5]), [b, gh * gw, p * p * c]) as tf.Tensor3D;
  });
}

/** [B,N,p*p*C] -> [B,H,W,C], the inverse of toPatches. */
export function fromPatches(
  patches: tf.Tensor,
  patchSize: number,
  height: number,
  width: number,
): tf.Tensor4D {
  if (patches.rank !== 3)
    throw new Error(`fromPatches: expected patches [B,N,D], got [${patches.shape.join(",")}]`);
  const [b, n, d] = patches.shape as [number, number, number];
  const p = patchSize;
  const gh = height / p;
  const gw = width / p;
  const c = d / (p * p);
  if (!Number.isInteger(gh) || !Number.isInteger(gw) || gh * gw !== n || !Number.isInteger(c)) {
    throw new Error(
      `fromPatches: ${n} patches of ${d} values do not make a ${height}x${width} image of ${p}x${p} patches`,
    );
  }
  return tf.tidy(() => {
    const six = tf.reshape(patches, [b, gh, gw, p, p, c]);
    return tf.reshape(tf.transpose(six, [0, 1, 3, 2, 4, 5]), [b, height, width, c]) as tf.Tensor4D;
  });
}

/** Grid size (rows, columns) of the patches of an h x w image. */
export function patchGrid(height: number, width: number, patchSize: number): [number, number] {
  return [Math.floor(height / patchSize), Math.floor(width / patchSize)];
}
