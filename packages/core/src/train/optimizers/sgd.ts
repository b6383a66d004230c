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
import { Optimizer, type ParamRef } from "./optimizer.js";

export interface SGDOptions {
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
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
