/**
 * Momentum (EMA) copies of networks, as MoCo's key encoder and BYOL's target network.
 */
import type { FeatureModule, Module } from "../nn/module.js";
import { tf } from "../tf.js";

/**
 * A copy of `online` (same architecture and weights) whose parameters are marked non-trainable, so
 * that no optimizer or default variable list picks them up: they only move by `emaUpdate`.
 */
export function momentumCopy<M extends Module>(online: M): M {
  const copy = online.clone();
  for (const p of copy.namedParameters()) p.variable.trainable = false;
  return copy;
}

/**
 * theta_target <- m * theta_target + (1 - m) * theta_online, parameter by parameter (matched by
 * name). Buffers (BatchNorm running statistics) are not averaged: the target's own forward passes
 * in training mode keep them, as in MoCo's and BYOL's reference code.
 */
export function emaUpdate(target: Module, online: Module, momentum: number): void {
  if (!(momentum >= 0 && momentum <= 1))
    throw new Error(`emaUpdate: momentum must be in [0, 1], got ${momentum}`);
  const source = new Map(online.namedParameters().map((p) => [p.name, p.variable]));
  tf.tidy(() => {
    for (const { name, variable } of target.namedParameters()) {
      const theta = source.get(name);
      if (theta === undefined) throw new Error(`emaUpdate: the online network has no parameter "${name}"`);
      variable.assign(tf.add(tf.mul(variable, momentum), tf.mul(theta, 1 - momentum)));
    }
  });
}

/**
 * BYOL's target decay (Grill et al. 2020, section 3.2): a cosine increase from `base` to 1 over
 * training,  tau_k = 1 - (1 - tau_base) * (cos(pi k / K) + 1) / 2,  k the step, K the total steps.
 */
export function cosineMomentum(step: number, totalSteps: number, base: number): number {
  if (!(totalSteps > 0)) return base;
  const progress = Math.min(Math.max(step / totalSteps, 0), 1);
  return 1 - ((1 - base) * (Math.cos(Math.PI * progress) + 1)) / 2;
}

/**
 * A momentum (EMA) copy of an encoder and its projector: MoCo's key encoder, BYOL's target network.
 * `embed(x)` runs the copies (call it outside the tape: no gradient reaches them) and `update(m)`
 * moves them toward the online pair. `MethodBase.addMomentumEncoder` declares one.
 */
export class MomentumEncoder {
  constructor(
    /** The copy of the online backbone (non-trainable). */
    readonly backbone: FeatureModule,
    /** The copy of the online projector (non-trainable). */
    readonly projector: FeatureModule,
    private readonly online: { backbone: FeatureModule; projector: FeatureModule },
  ) {}

  /** projector(backbone(x)) of the copies, under its own tidy. */
  embed(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.projector.forward(this.backbone.forward(x)));
  }

  /** theta_copy <- m theta_copy + (1 - m) theta_online, backbone then projector (see `emaUpdate`). */
  update(momentum: number): void {
    emaUpdate(this.backbone, this.online.backbone, momentum);
    emaUpdate(this.projector, this.online.projector, momentum);
  }
}
