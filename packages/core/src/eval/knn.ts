/**
 * Weighted k-nearest-neighbour classification on features, as in Wu et al. 2018, "Unsupervised
 * Feature Learning via Non-Parametric Instance Discrimination" (https://arxiv.org/abs/1805.01978):
 * features are L2-normalised, similarity is the cosine s = <f_test, f_train>, and each of the k
 * most similar training samples votes for its class with weight exp(s / t). Defaults k = 200,
 * t = 0.1 as in that paper. Reports top-1 accuracy.
 */
import { tf } from "../tf.js";
import { accuracy, EvaluationError } from "./features.js";

export interface KnnOptions {
  trainFeatures: tf.Tensor2D;
  trainLabels: Int32Array;
  testFeatures: tf.Tensor2D;
  numClasses: number;
  /** Neighbours (default 200, capped at the training set size). */
  k?: number;
  /** Temperature t of the exp(s / t) vote weight (default 0.1). */
  temperature?: number;
  /** Test rows per similarity block (default 256). */
  batchSize?: number;
}

/** Predicted class of every test row. */
export function knnPredict(opts: KnnOptions): Int32Array {
  const n = opts.trainFeatures.shape[0];
  if (n !== opts.trainLabels.length)
    throw new EvaluationError(`kNN: ${n} training features but ${opts.trainLabels.length} labels`);
  if (n === 0) throw new EvaluationError("kNN: no training samples");
  const k = Math.min(opts.k ?? 200, n);
  const t = opts.temperature ?? 0.1;
  const block = opts.batchSize ?? 256;
  const m = opts.testFeatures.shape[0];
  const out = new Int32Array(m);
  const trainNorm = tf.tidy(() => tf.transpose(l2normalize(opts.trainFeatures)));
  const trainOneHot = tf.tidy(() =>
    tf.cast(tf.oneHot(tf.tensor1d(opts.trainLabels, "int32"), opts.numClasses), "float32"),
  );
  try {
    for (let start = 0; start < m; start += block) {
      const size = Math.min(block, m - start);
      const pred = tf.tidy(() => {
        const q = l2normalize(tf.slice(opts.testFeatures, [start, 0], [size, -1]));
        const sim = tf.matMul(q, trainNorm); // [b, n]
        const { values, indices } = tf.topk(sim, k); // [b, k]
        const weights = tf.exp(tf.div(values, t));
        const votes = tf.gather(trainOneHot, tf.reshape(indices, [-1])); // [b*k, C]
        const scores = tf.sum(
          tf.mul(tf.reshape(votes, [size, k, opts.numClasses]), tf.expandDims(weights, 2)),
          1,
        ); // [b, C]
        return tf.argMax(scores, 1);
      });
      out.set(pred.dataSync(), start);
      pred.dispose();
    }
  } finally {
    trainNorm.dispose();
    trainOneHot.dispose();
  }
  return out;
}

/** Top-1 accuracy of `knnPredict` against `testLabels`. */
export function knnAccuracy(opts: KnnOptions & { testLabels: Int32Array }): number {
  return accuracy(knnPredict(opts), opts.testLabels);
}

function l2normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 2, 1, true), 1e-12)) as tf.Tensor2D);
}
