import { tf } from "../tf.js";
import { l2Normalize } from "./normalize.js";

/**
 * Collapse monitor (SimSiam, Chen & He 2021, section 4.1): the per-dimension standard deviation
 * over the batch of the L2-normalized embeddings, averaged over dimensions. About 1/sqrt(D) for
 * well-spread embeddings, 0 when every sample maps to the same point.
 */
export function embeddingStd(z: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.sqrt(tf.moments(l2Normalize(z), 0).variance)) as tf.Scalar);
}
