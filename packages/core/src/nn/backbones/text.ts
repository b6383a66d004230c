import { tf } from "../../tf.js";
import type { TextInput } from "./input.js";

/** Checks a token batch [B, T] of int32 ids against the spec. */
export function checkTokenBatch(x: tf.Tensor, input: TextInput, backbone: string): void {
  if (x.rank !== 2 || x.dtype !== "int32") {
    throw new Error(`${backbone} expects int32 token ids [B, T], got ${x.dtype} [${x.shape}]`);
  }
  if ((x.shape[1] as number) > input.seqLen) {
    throw new Error(
      `${backbone} was built for sequences of at most ${input.seqLen} tokens, got ${x.shape[1]}`,
    );
  }
}

/** 1 where the id is the padding id, else 0 ([B, T] float32), or undefined without a padding id. */
export function paddingMask(ids: tf.Tensor, padId: number | null): tf.Tensor | undefined {
  return padId === null ? undefined : tf.cast(tf.equal(ids, padId), "float32");
}

/**
 * Mean over time of [B, T, D] features, over the real (non-padding) positions only when a padding
 * mask [B, T] (1 = padding) is given. A sequence of padding only yields zeros rather than NaN.
 */
export function maskedMean(h: tf.Tensor, padding: tf.Tensor | undefined): tf.Tensor {
  if (!padding) return tf.mean(h, 1);
  return tf.tidy(() => {
    const [b, t] = padding.shape as [number, number];
    const keep = tf.reshape(tf.sub(1, padding), [b, t, 1]);
    const count = tf.maximum(tf.sum(keep, 1), 1); // [B, 1]
    return tf.div(tf.sum(tf.mul(h, keep), 1), count);
  });
}
