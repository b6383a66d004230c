import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { uniformInit } from "../init.js";
import { type ForwardOptions, Module } from "../module.js";

export interface LSTMOptions {
  /** Return the hidden state of every step [B,T,H] instead of the last one [B,H] (default false). */
  returnSequences?: boolean;
  /**
   * Added to the forget gate's bias at init (default 1): the cell starts out remembering, which
   * helps gradients through long sequences (Gers et al., 2000; Jozefowicz et al., 2015).
   */
  forgetBias?: number;
}

/**
 * A single-layer, batch-first LSTM (Hochreiter & Schmidhuber, 1997, "Long Short-Term Memory",
 * Neural Computation 9(8)) in the now-standard form with a forget gate:
 *
 *   [i, f, g, o] = x_t·W_ih + h_{t-1}·W_hh + b
 *   c_t = σ(f)⊙c_{t-1} + σ(i)⊙tanh(g);   h_t = σ(o)⊙tanh(c_t)
 *
 * Input [B, T, inputSize]; output the last hidden state [B, H], or all of them [B, T, H] with
 * `returnSequences`. The input projection of all steps is one matmul before the loop. Weights are
 * U(±1/√H) like PyTorch's; one bias vector (PyTorch's b_ih + b_hh is the same function).
 *
 * `forward(x, { mask })` takes a padding mask [B, T] (1 = padding): at padded steps the state is
 * carried over unchanged, so the "last" hidden state is the one after the last real token.
 * `{ tokens: true }` / `{ tokens: false }` overrides `returnSequences` for one call.
 */
export class LSTM extends Module {
  readonly weightIH: tf.Variable;
  readonly weightHH: tf.Variable;
  readonly bias: tf.Variable;
  private readonly options: Required<LSTMOptions>;

  constructor(
    readonly inputSize: number,
    readonly hiddenSize: number,
    rng: Rng,
    opts: LSTMOptions = {},
  ) {
    super();
    this.options = { returnSequences: opts.returnSequences ?? false, forgetBias: opts.forgetBias ?? 1 };
    const h = hiddenSize;
    const bound = 1 / Math.sqrt(h);
    this.weightIH = this.addParameter("weight_ih", uniformInit([inputSize, 4 * h], bound, rng));
    this.weightHH = this.addParameter("weight_hh", uniformInit([h, 4 * h], bound, rng));
    const b = uniformInit([4 * h], bound, rng);
    const forget = tf.concat([tf.zeros([h]), tf.fill([h], this.options.forgetBias), tf.zeros([2 * h])]);
    this.bias = this.addParameter("bias", tf.add(b, forget), { decay: false });
    b.dispose();
    forget.dispose();
  }

  get returnSequences(): boolean {
    return this.options.returnSequences;
  }

  forward(x: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor {
    if (x.rank !== 3 || x.shape[2] !== this.inputSize) {
      throw new Error(`LSTM expects batch-first input [B, T, ${this.inputSize}], got shape [${x.shape}]`);
    }
    const [b, t] = x.shape as [number, number, number];
    const h = this.hiddenSize;
    if (opts.mask && !(opts.mask.rank === 2 && opts.mask.shape[0] === b && opts.mask.shape[1] === t)) {
      throw new Error(`LSTM padding mask must be [${b}, ${t}], got [${opts.mask.shape}]`);
    }
    return tf.tidy(() => {
      const flat = tf.reshape(x, [b * t, this.inputSize]) as tf.Tensor2D;
      const xProj = tf.reshape(
        tf.fused.matMul({ a: flat, b: this.weightIH as tf.Tensor2D, bias: this.bias }),
        [b, t, 4 * h],
      );
      const steps = tf.unstack(xProj, 1);
      const keeps = opts.mask
        ? tf.unstack(tf.reshape(tf.sub(1, tf.cast(opts.mask, "float32")), [b, t, 1]), 1)
        : undefined;
      let hPrev: tf.Tensor = tf.zeros([b, h]);
      let cPrev: tf.Tensor = tf.zeros([b, h]);
      const outputs: tf.Tensor[] = [];
      steps.forEach((xt, s) => {
        const gates = tf.add(xt, tf.matMul(hPrev as tf.Tensor2D, this.weightHH as tf.Tensor2D));
        const [i, f, g, o] = tf.split(gates, 4, 1) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        let c = tf.add(tf.mul(tf.sigmoid(f), cPrev), tf.mul(tf.sigmoid(i), tf.tanh(g)));
        let hNew = tf.mul(tf.sigmoid(o), tf.tanh(c));
        const keep = keeps?.[s];
        if (keep) {
          // keep = 1 for a real token, 0 for padding: padding carries the previous state over.
          const drop = tf.sub(1, keep);
          c = tf.add(tf.mul(c, keep), tf.mul(cPrev, drop));
          hNew = tf.add(tf.mul(hNew, keep), tf.mul(hPrev, drop));
        }
        cPrev = c;
        hPrev = hNew;
        outputs.push(hNew);
      });
      return (opts.tokens ?? this.options.returnSequences) ? tf.stack(outputs, 1) : hPrev;
    });
  }

  protected recreate(): LSTM {
    return new LSTM(this.inputSize, this.hiddenSize, new Rng(0), this.options);
  }
}
