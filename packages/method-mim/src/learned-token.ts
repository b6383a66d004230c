import { Module, Rng, type tf, truncatedNormalInit } from "@selfsup/core";

/**
 * A learned vector [1, 1, dim] held by a module of its own, so a method can declare it (trained,
 * checkpointed): SimMIM's pixel-space mask patch for convnets. `forward` returns it.
 */
export class LearnedToken extends Module {
  readonly value: tf.Variable;

  constructor(
    readonly dim: number,
    rng: Rng,
  ) {
    super();
    this.value = this.addParameter("value", truncatedNormalInit([1, 1, dim], 0.02, rng), { decay: false });
  }

  forward(): tf.Tensor {
    return this.value;
  }

  protected recreate(): LearnedToken {
    return new LearnedToken(this.dim, new Rng(0));
  }
}
