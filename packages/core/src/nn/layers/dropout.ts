import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { Module } from "../module.js";

/**
 * Dropout (Srivastava et al., 2014, https://jmlr.org/papers/v15/srivastava14a.html), inverted:
 * in training mode each element is zeroed with probability p and the rest scaled by 1/(1-p), so
 * eval mode is the identity. The masks come from the `Rng` it is given (one tfjs seed drawn per
 * call), so a run replays the same masks from the same seed.
 */
export class Dropout extends Module {
  constructor(
    readonly p: number,
    private readonly rng: Rng,
  ) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout probability must be in [0, 1), got ${p}`);
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.training || this.p === 0) return x;
    const seed = this.rng.seed();
    return tf.tidy(() => {
      const keep = tf.cast(
        tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, "float32", seed), this.p),
        "float32",
      );
      return tf.mul(x, tf.mul(keep, 1 / (1 - this.p)));
    });
  }

  /** The copy draws from a generator in the same state, so it stays deterministic without consuming ours. */
  protected recreate(): Dropout {
    return new Dropout(this.p, new Rng(this.rng.getState()));
  }
}
