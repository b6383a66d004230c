import { tf } from "../../tf.js";
import { type ForwardOptions, Module } from "../module.js";

/**
 * Modules applied in order. Children are named "0", "1", ... so state-dict keys read like
 * PyTorch's (`layers.0.weight`). Forward options (a mask, tokens) are passed to the first module
 * only: later modules see a plain tensor.
 */
export class Sequential extends Module {
  readonly layers: readonly Module[];

  constructor(layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => {
      this.addModule(String(i), m);
    });
  }

  forward(x: tf.Tensor, opts?: ForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      let y = x;
      this.layers.forEach((m, i) => {
        y = i === 0 ? m.forward(y, opts) : m.forward(y);
      });
      return y;
    });
  }

  get length(): number {
    return this.layers.length;
  }

  /** Children are arbitrary modules, so the copy is made of their clones. */
  protected recreate(): Sequential {
    return new Sequential(this.layers.map((m) => m.clone()));
  }
}
