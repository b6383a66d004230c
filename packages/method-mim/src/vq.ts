/**
 * Vector quantisation as in VQ-VAE (van den Oord, Vinyals, Kavukcuoglu, "Neural Discrete
 * Representation Learning", NeurIPS 2017, https://arxiv.org/abs/1711.00937, eq. 3):
 *
 *   k(z)  = argmin_k ||z - e_k||^2                     nearest code of each encoder output z
 *   z_q   = e_{k(z)}
 *   z_st  = z + sg(z_q - z)                            straight-through: forward z_q, gradient of z
 *   L_codebook = ||sg(z) - z_q||^2                     moves the codes toward the encoder outputs
 *   L_commit   = beta ||z - sg(z_q)||^2                keeps the encoder close to its codes
 *
 * The lookup e_{k} is written as one_hot(k) x E, a matmul, so that its gradient exists on every
 * backend (gather's needs UnsortedSegmentSum, which wasm lacks).
 */
import { Module, normalInit, Rng, stopGradient, tf } from "@selfsup/core";

export interface Quantized {
  /** Code index of each row, [M] int32 (no gradient). */
  indices: tf.Tensor1D;
  /** The straight-through quantised vectors [M, D]: values of z_q, gradient of z. */
  zq: tf.Tensor2D;
  /** mean ||sg(z) - z_q||^2 over rows and dimensions (trains the codebook). */
  codebookLoss: tf.Scalar;
  /** mean ||z - sg(z_q)||^2 (trains the encoder; scale it by beta). */
  commitLoss: tf.Scalar;
  /** How many rows chose each code, [K]. */
  counts: tf.Tensor1D;
}

export class VectorQuantizer extends Module {
  readonly codebook: tf.Variable;

  constructor(
    readonly codebookSize: number,
    readonly codeDim: number,
    rng: Rng,
  ) {
    super();
    this.codebook = this.addParameter("codebook", normalInit([codebookSize, codeDim], 1, rng), {
      decay: false,
    });
  }

  /** Nearest code index of each row of z [M, D] (squared Euclidean distance). */
  nearest(z: tf.Tensor): tf.Tensor1D {
    return tf.tidy(() => {
      const e = this.codebook as tf.Tensor2D;
      const d = tf.add(
        tf.sub(tf.sum(tf.square(z), 1, true), tf.mul(2, tf.matMul(z as tf.Tensor2D, e, false, true))),
        tf.reshape(tf.sum(tf.square(e), 1), [1, this.codebookSize]),
      );
      return tf.argMin(d, 1) as tf.Tensor1D;
    });
  }

  quantize(z: tf.Tensor): Quantized {
    if (z.rank !== 2 || z.shape[1] !== this.codeDim)
      throw new Error(`VectorQuantizer expects [M, ${this.codeDim}] vectors, got [${z.shape}]`);
    return tf.tidy(() => {
      const indices = this.nearest(stopGradient(z));
      const onehot = tf.cast(tf.oneHot(indices, this.codebookSize), "float32") as tf.Tensor2D;
      const q = tf.matMul(onehot, this.codebook as tf.Tensor2D); // e_k(z), gradient flows to the codebook
      const codebookLoss = tf.mean(tf.square(tf.sub(stopGradient(z), q))) as tf.Scalar;
      const commitLoss = tf.mean(tf.square(tf.sub(z, stopGradient(q)))) as tf.Scalar;
      const zq = tf.add(z, stopGradient(tf.sub(q, z))) as tf.Tensor2D;
      const counts = tf.sum(onehot, 0) as tf.Tensor1D;
      return { indices, zq, codebookLoss, commitLoss, counts };
    });
  }

  forward(z: tf.Tensor): tf.Tensor {
    return tf.tidy(() =>
      tf.matMul(tf.cast(tf.oneHot(this.nearest(z), this.codebookSize), "float32"), this.codebook),
    );
  }

  protected recreate(): VectorQuantizer {
    return new VectorQuantizer(this.codebookSize, this.codeDim, new Rng(0));
  }
}

/** Codebook perplexity exp(H(p)), p the share of rows per code: 1 = one code used, K = all used evenly. */
export function codebookPerplexity(counts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  if (total <= 0) return 0;
  let h = 0;
  for (let i = 0; i < counts.length; i++) {
    const p = (counts[i] as number) / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/** The same, as a tensor (for metrics inside ctx.minimize). */
export function codebookPerplexityTensor(counts: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.div(counts, tf.maximum(tf.sum(counts), 1));
    return tf.exp(tf.neg(tf.sum(tf.mul(p, tf.log(tf.add(p, 1e-10)))))) as tf.Scalar;
  });
}
