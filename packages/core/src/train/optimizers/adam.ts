/**
 * Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980) with optional coupled L2 decay, and
 * AdamW (Loshchilov & Hutter 2019, https://arxiv.org/abs/1711.05101) with decoupled decay, in
 * PyTorch's conventions (eps added after the square root, bias correction with the step t >= 1):
 *
 *   Adam:  g = grad + wd * p                       (only for parameters with decay)
 *   AdamW: p = p - lr * wd * p                     (only for parameters with decay), g = grad
 *   m = b1 * m + (1 - b1) * g                      (slot "m")
 *   v = b2 * v + (1 - b2) * g^2                    (slot "v")
 *   p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *
 * Usage: `new AdamW({ weightDecay: 0.05 }).applyGradients(params, grads, lr)`.
 */
import { ADAM_UPDATE, type AdamUpdateAttrs, hasFusedKernel } from "../../backend/fused-kernels.js";
import { tf } from "../../tf.js";
import { type FlatSplit, type FlatUpdate, Optimizer, type ParamRef } from "./optimizer.js";

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** All parameters in one update (see Optimizer.flat); default: on the native backend. */
  flat?: boolean;
}

export class Adam extends Optimizer {
  readonly name: string = "adam";
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** AdamW: decay the weights directly instead of adding wd * p to the gradient. */
  protected readonly decoupled: boolean = false;

  constructor(opts: AdamOptions = {}) {
    super();
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.flat = opts.flat;
  }

  protected override flatSlotNames: readonly string[] = ["m", "v"];

  /**
   * The composite form below over all parameters at once. Where only some parameters decay, the
   * decay is applied through a 0/1 mask, exactly: AdamW's factor mask·(1 - lr·wd) + (1 - mask) is
   * (1 - lr·wd) or 1 to the bit, Adam's L2 term p·(mask·wd) is p·wd or 0.
   */
  protected override updateFlat(u: FlatUpdate, lr: number): tf.Tensor {
    const m = u.slots.get("m") as tf.Variable;
    const v = u.slots.get("v") as tf.Variable;
    const decay = this.weightDecay !== 0 ? u.decay : "none";
    let g = u.grad;
    let w = u.param;
    if (decay !== "none" && this.decoupled) {
      const factor = tf.scalar(1 - lr * this.weightDecay);
      w = tf.mul(w, decay === "all" ? factor : tf.add(tf.mul(decay.mask, factor), decay.keep));
    } else if (decay !== "none") {
      const l2 = tf.scalar(this.weightDecay);
      g = tf.add(g, tf.mul(w, decay === "all" ? l2 : tf.mul(decay.mask, l2)));
    }
    const mNew = tf.add(tf.mul(m, tf.scalar(this.beta1)), tf.mul(g, tf.scalar(1 - this.beta1)));
    const vNew = tf.add(tf.mul(v, tf.scalar(this.beta2)), tf.mul(tf.square(g), tf.scalar(1 - this.beta2)));
    m.assign(mNew);
    v.assign(vNew);
    const mHat = tf.div(mNew, tf.scalar(1 - this.beta1 ** u.t));
    const vHat = tf.div(vNew, tf.scalar(1 - this.beta2 ** u.t));
    return tf.sub(w, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), tf.scalar(this.eps))), tf.scalar(lr)));
  }

  protected update(p: ParamRef, grad: tf.Tensor, lr: number): void {
    const decay = p.decay && this.weightDecay !== 0;
    const m = this.slot(p, "m");
    const v = this.slot(p, "v");
    const t = this.paramStep(p);
    if (hasFusedKernel(ADAM_UPDATE) && grad.dtype === "float32") {
      // One kernel for the whole update where the backend has it (wasm, see fused-kernels.ts).
      const attrs: AdamUpdateAttrs = {
        lr,
        beta1: this.beta1,
        beta2: this.beta2,
        eps: this.eps,
        l2: decay && !this.decoupled ? this.weightDecay : 0,
        decay: decay && this.decoupled ? 1 - lr * this.weightDecay : 1,
        c1: 1 - this.beta1 ** t,
        c2: 1 - this.beta2 ** t,
      };
      const [pNew, mNew, vNew] = tf
        .engine()
        .runKernel(
          ADAM_UPDATE,
          { param: p.variable, grad, m, v },
          attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor[];
      m.assign(mNew as tf.Tensor);
      v.assign(vNew as tf.Tensor);
      p.variable.assign(pNew as tf.Tensor);
      return;
    }
    // Composite form (the formula above, op for op); the scalars shared by every parameter of
    // this update are made once (see applySplit) instead of uploaded per op.
    const k = this.scalars(lr, t);
    let g = grad;
    let w: tf.Tensor = p.variable;
    if (decay && this.decoupled) w = tf.mul(w, k.decay);
    else if (decay) g = tf.add(g, tf.mul(w, k.l2));
    const mNew = tf.add(tf.mul(m, k.beta1), tf.mul(g, k.oneMinusBeta1));
    const vNew = tf.add(tf.mul(v, k.beta2), tf.mul(tf.square(g), k.oneMinusBeta2));
    m.assign(mNew);
    v.assign(vNew);
    const mHat = tf.div(mNew, k.c1);
    const vHat = tf.div(vNew, k.c2);
    p.variable.assign(tf.sub(w, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), k.eps)), k.lr)));
  }

  /** Scalars of this update by step t, kept until applySplit returns. */
  private stepScalars: Map<number, AdamScalars> | undefined;

  override applySplit(split: FlatSplit & { flatGrad?: tf.Tensor | undefined }, lr: number): void {
    this.stepScalars = new Map();
    try {
      super.applySplit(split, lr);
    } finally {
      for (const k of this.stepScalars.values()) for (const t of Object.values(k)) t.dispose();
      this.stepScalars = undefined;
    }
  }

  private scalars(lr: number, t: number): AdamScalars {
    if (this.stepScalars === undefined)
      throw new Error(`${this.name}: update() runs only inside applyGradients() / applySplit()`);
    const cached = this.stepScalars.get(t);
    if (cached) return cached;
    const c1 = 1 - this.beta1 ** t;
    const make = (x: number) => tf.keep(tf.scalar(x));
    const k: AdamScalars = {
      beta1: make(this.beta1),
      oneMinusBeta1: make(1 - this.beta1),
      beta2: make(this.beta2),
      oneMinusBeta2: make(1 - this.beta2),
      decay: make(1 - lr * this.weightDecay),
      l2: make(this.weightDecay),
      c1: make(c1),
      c2: make(1 - this.beta2 ** t),
      eps: make(this.eps),
      lr: make(lr),
    };
    this.stepScalars.set(t, k);
    return k;
  }
}

interface AdamScalars {
  beta1: tf.Scalar;
  oneMinusBeta1: tf.Scalar;
  beta2: tf.Scalar;
  oneMinusBeta2: tf.Scalar;
  decay: tf.Scalar;
  l2: tf.Scalar;
  c1: tf.Scalar;
  c2: tf.Scalar;
  eps: tf.Scalar;
  lr: tf.Scalar;
}

export class AdamW extends Adam {
  override readonly name: string = "adamw";
  protected override readonly decoupled: boolean = true;
}
