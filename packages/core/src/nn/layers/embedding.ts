import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { normalInit } from "../init.js";
import { Module } from "../module.js";

export interface EmbeddingOptions {
  /** Standard deviation of the N(0, std²) initialisation (default 1, as PyTorch's nn.Embedding). */
  std?: number;
}

/**
 * A lookup table: integer ids [...] -> vectors [..., dim] (`tf.gather` on the `weight` rows).
 * Ids outside [0, numEmbeddings) are an error, checked on the host because backends disagree on
 * what gather does with them (zeros on some, garbage on others).
 */
export class Embedding extends Module {
  readonly weight: tf.Variable;
  private readonly options: Required<EmbeddingOptions>;

  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
    rng: Rng,
    opts: EmbeddingOptions = {},
  ) {
    super();
    this.options = { std: opts.std ?? 1 };
    this.weight = this.addParameter("weight", normalInit([numEmbeddings, dim], this.options.std, rng));
  }

  forward(ids: tf.Tensor): tf.Tensor {
    if (ids.dtype !== "int32") {
      throw new Error(
        `Embedding expects int32 token ids, got ${ids.dtype} (cast with tf.cast(ids, "int32"))`,
      );
    }
    return tf.tidy(() => {
      const lo = ids.size > 0 ? (tf.min(ids).dataSync()[0] as number) : 0;
      const hi = ids.size > 0 ? (tf.max(ids).dataSync()[0] as number) : 0;
      if (lo < 0 || hi >= this.numEmbeddings) {
        throw new Error(`Embedding of ${this.numEmbeddings} rows got ids in [${lo}, ${hi}]`);
      }
      return tf.reshape(tf.gather(this.weight, tf.reshape(ids, [-1])), [...ids.shape, this.dim]);
    });
  }

  protected recreate(): Embedding {
    return new Embedding(this.numEmbeddings, this.dim, new Rng(0), this.options);
  }
}
