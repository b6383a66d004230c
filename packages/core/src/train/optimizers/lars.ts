/**
 * LARS: layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017,
 * https://arxiv.org/abs/1708.03888), as used for large-batch SimCLR/BYOL/Barlow Twins training.
 * Biases and normalisation parameters (decay flag false in `Module.namedParameters()`) get
 * neither weight decay nor the trust ratio, as in those papers' implementations:
 *
 *   for parameters with decay:
 *     g     = grad + wd * p
 *     trust = eta * ||p|| / ||g||     (1 when ||p|| = 0 or ||g|| = 0)
 *     g     = trust * g
 *   b = mu * b + g                    (slot "momentum")
 *   d = nesterov ? g + mu * b : b
 *   p = p - lr * d
 *
 * Usage: `new LARS({ momentum: 0.9, weightDecay: 1e-6, trustCoefficient: 0.001 })`.
 */
import { tf } from "../../tf.js";
import { Optimizer, type ParamRef } from "./optimizer.js";

export interface LARSOptions {
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
  /** eta in the paper. */
  trustCoefficient?: number;
}

export class LARS extends Optimizer {
  readonly name = "lars";
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly trustCoefficient: number;

  constructor(opts: LARSOptions = {}) {
    super();
    this.momentum = opts.momentum ?? 0.9;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
    this.trustCoefficient = opts.trustCoefficient ?? 0.001;
  }

  protected update(p: ParamRef, grad: tf.Tensor, lr: number): void {
    let g = grad;
    if (p.decay) {
      if (this.weightDecay !== 0) g = tf.add(g, tf.mul(p.variable, this.weightDecay));
      const wNorm = tf.norm(p.variable);
      const gNorm = tf.norm(g);
      const ratio = tf.div(tf.mul(wNorm, this.trustCoefficient), gNorm);
      const ok = tf.logicalAnd(tf.greater(wNorm, 0), tf.greater(gNorm, 0));
      const trust = tf.where(ok, ratio, tf.onesLike(ratio));
      g = tf.mul(g, trust);
    }
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
