/**
 * Stochastic gradient descent with momentum, Nesterov momentum and (coupled, L2) weight decay,
 * with PyTorch's `torch.optim.SGD` conventions (dampening 0):
 *
 *   g  = grad + wd * p                      (only for parameters with decay)
 *   b  = mu * b + g                         (b starts at 0; momentum buffer, slot "momentum")
 *   d  = nesterov ? g + mu * b : b          (d = g when mu = 0)
 *   p  = p - lr * d
 *
 * Usage: `new SGD({ momentum: 0.9, weightDecay: 5e-4 }).applyGradients(params, grads, lr)`.
 */
import { tf } from "../../tf.js";
import { type FlatUpdate, Optimizer, type ParamRef } from "./optimizer.js";

export interface SGDOptions {
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  /** All parameters in one update (see Optimizer.flat); default: on the native backend. */
  flat?: boolean;
}

export class SGD extends Optimizer {
  readonly name = "sgd";
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(opts: SGDOptions = {}) {
    super();
    this.momentum = opts.momentum ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
    if (this.nesterov && this.momentum <= 0) throw new Error("sgd: nesterov momentum needs momentum > 0");
    this.flat = opts.flat;
    this.flatSlotNames = this.momentum !== 0 ? ["momentum"] : [];
  }

  /** `update` over all parameters at once; the decay through a 0/1 mask (p·(mask·wd): exact). */
  protected override updateFlat(u: FlatUpdate, lr: number): tf.Tensor {
    const decay = this.weightDecay !== 0 ? u.decay : "none";
    let g = u.grad;
    if (decay !== "none") {
      const wd = tf.scalar(this.weightDecay);
      g = tf.add(g, tf.mul(u.param, decay === "all" ? wd : tf.mul(decay.mask, wd)));
    }
    let d = g;
    if (this.momentum !== 0) {
      const buf = u.slots.get("momentum") as tf.Variable;
      const mu = tf.scalar(this.momentum);
      const b = tf.add(tf.mul(buf, mu), g);
      buf.assign(b);
      d = this.nesterov ? tf.add(g, tf.mul(b, mu)) : b;
    }
    return tf.sub(u.param, tf.mul(d, tf.scalar(lr)));
  }

  protected update(p: ParamRef, grad: tf.Tensor, lr: number): void {
    let g = grad;
    if (p.decay && this.weightDecay !== 0) g = tf.add(g, tf.mul(p.variable, this.weightDecay));
    let d = g;
    if (this.momentum !== 0) {
      const buf = this.slot(p, "momentum");
      const b = tf.add(tf.mul(buf, this.momentum), g);
      buf.assign(b);
      d = this.nesterov ? tf.add(g, tf.mul(b, this.momentum)) : b;
    }
    p.variable.assign(tf.sub(p.variable, tf.mul(d, lr)));
  }
}
