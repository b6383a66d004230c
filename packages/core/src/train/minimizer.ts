/**
 * What `StepContext.minimize` does, in order: gradients of the loss over the variables (the
 * method's trainable ones by default) -> NaN/Inf guard on the loss -> accumulation over k
 * micro-batches (mean of their gradients) -> on the last micro-batch: global-norm guard and
 * clipping -> optimizer update at the scheduled learning rate. Returns plain numbers.
 */
import { registerCoreGradients } from "../backend/gradients/index.js";
import type { Module } from "../nn/module.js";
import type { LossOutput, Method, StepResult } from "../plugin/types.js";
import { tf } from "../tf.js";
import { clipByGlobalNorm, clipScale, globalNormValue } from "./clip.js";
import { NonFiniteLossError } from "./errors.js";
import { type FlatSplit, flattenTensors, type Optimizer, type ParamRef } from "./optimizers/optimizer.js";
import type { LrSchedule } from "./schedule.js";

/**
 * Stable names and decay flags of a method's variables, by identity: "<module>/<dotted param>"
 * from `method.modules()`, then "state/<name>" from `method.state()`. The first name wins when
 * modules share variables.
 */
export function methodParams(method: Pick<Method, "modules" | "state">): Map<tf.Variable, ParamRef> {
  return namedModuleParams(method.modules(), method.state?.());
}

export function namedModuleParams(
  modules: Record<string, Module>,
  state?: Record<string, tf.Variable>,
): Map<tf.Variable, ParamRef> {
  const out = new Map<tf.Variable, ParamRef>();
  for (const [moduleName, module] of Object.entries(modules)) {
    for (const p of module.namedParameters()) {
      if (!out.has(p.variable))
        out.set(p.variable, { name: `${moduleName}/${p.name}`, variable: p.variable, decay: p.decay });
    }
  }
  for (const [name, variable] of Object.entries(state ?? {})) {
    if (!out.has(variable)) out.set(variable, { name: `state/${name}`, variable, decay: false });
  }
  return out;
}

export interface MinimizerOptions {
  optimizer: Optimizer;
  /** Names and decay flags by variable identity (see methodParams). */
  params: Map<tf.Variable, ParamRef>;
  /** Variables used when `minimize` is called without any. */
  defaultVars: () => tf.Variable[];
  schedule: LrSchedule;
  clipGradNorm?: number;
  /** Micro-batches per optimizer step (gradient accumulation); default 1. */
  accumulate?: number;
}

/** The last update's figures, for the trainer's metrics. */
export interface UpdateInfo {
  lr: number;
  gradNorm: number;
}

export class Minimizer {
  /** Optimizer step the current micro-batch belongs to (0-based); set by the trainer. */
  step = 0;
  epoch = 0;
  /** Index of the current micro-batch within the step (0 .. accumulate-1); set by the trainer. */
  microBatch = 0;
  readonly accumulate: number;
  lastUpdate: UpdateInfo | undefined;
  private readonly accumulated = new Map<tf.Variable, tf.Tensor>();

  constructor(private readonly opts: MinimizerOptions) {
    this.accumulate = opts.accumulate ?? 1;
    // tfjs-core registers no gradient by itself in Node; this is idempotent and cheap.
    registerCoreGradients();
    if (!Number.isInteger(this.accumulate) || this.accumulate < 1)
      throw new Error(`accumulate must be an integer >= 1 (got ${this.accumulate})`);
  }

  get optimizer(): Optimizer {
    return this.opts.optimizer;
  }

  /** The learning rate of the current step. */
  lr(): number {
    return this.opts.schedule(this.step);
  }

  minimize(lossFn: () => LossOutput, vars?: tf.Variable[]): StepResult {
    const varList = (vars ?? this.opts.defaultVars()).filter((v) => v.trainable);
    const params = varList.map((v) => this.paramOf(v));
    let metricNames: string[] = [];
    let metricTensors: tf.Scalar[] = [];
    const { value, grads } = tf.variableGrads(() => {
      const out = lossFn();
      metricNames = Object.keys(out.metrics ?? {});
      metricTensors = metricNames.map((k) =>
        tf.keep((out.metrics as Record<string, tf.Scalar>)[k] as tf.Scalar),
      );
      return out.loss;
    }, varList);
    // One read-back for the loss and every metric (scalars stay as they are: a native backend
    // runs even a no-op Reshape as an op of its own).
    const packed = tf.tidy(() =>
      tf.stack(
        [value, ...metricTensors].map((t) => tf.cast(t.rank === 0 ? t : tf.reshape(t, []), "float32")),
      ),
    );
    const numbers = packed.dataSync();
    packed.dispose();
    value.dispose();
    for (const t of metricTensors) t.dispose();
    const loss = numbers[0] as number;
    const metrics: Record<string, number> = {};
    metricNames.forEach((k, i) => {
      metrics[k] = numbers[i + 1] as number;
    });

    try {
      if (!Number.isFinite(loss)) throw new NonFiniteLossError("loss", loss, this.step + 1, this.epoch);
      this.accumulateGrads(varList, grads);
    } finally {
      for (const g of Object.values(grads)) g?.dispose();
    }
    if (this.microBatch === this.accumulate - 1) this.apply(params);
    return { loss, metrics };
  }

  private paramOf(v: tf.Variable): ParamRef {
    const p = this.opts.params.get(v);
    if (!p) {
      throw new Error(
        `minimize(): variable "${v.name}" [${v.shape}] belongs to none of the method's modules() or state(); ` +
          "create it with Module.addParameter in a module that modules() returns, so that it gets a name and a checkpoint slot",
      );
    }
    return p;
  }

  private accumulateGrads(varList: tf.Variable[], grads: tf.NamedTensorMap): void {
    const k = this.accumulate;
    for (const v of varList) {
      const g = grads[v.name];
      if (!g) continue; // no path from this variable to the loss: no update (as PyTorch's grad None)
      const prev = this.accumulated.get(v);
      const next = tf.tidy(() => {
        const scaled = k === 1 ? tf.clone(g) : tf.div(g, k);
        return prev ? tf.add(prev, scaled) : scaled;
      });
      prev?.dispose();
      this.accumulated.set(v, next);
    }
  }

  private apply(params: ParamRef[]): void {
    const ready = params.filter((p) => this.accumulated.has(p.variable));
    const grads = ready.map((p) => this.accumulated.get(p.variable) as tf.Tensor);
    for (const p of ready) this.accumulated.delete(p.variable);
    const split = this.opts.optimizer.splitFlat(ready, grads);
    if (split.flat.length > 0) {
      this.applyFlat(split, grads);
      return;
    }
    try {
      const norm = globalNormValue(grads);
      if (!Number.isFinite(norm))
        throw new NonFiniteLossError("gradient norm", norm, this.step + 1, this.epoch);
      const lr = this.lr();
      if (this.opts.clipGradNorm !== undefined && this.opts.clipGradNorm > 0) {
        const clipped = clipByGlobalNorm(grads, this.opts.clipGradNorm, norm);
        try {
          this.opts.optimizer.applyGradients(ready, clipped.grads, lr);
        } finally {
          for (const g of clipped.grads) g.dispose();
        }
      } else {
        this.opts.optimizer.applyGradients(ready, grads, lr);
      }
      this.lastUpdate = { lr, gradNorm: norm };
    } finally {
      for (const g of grads) g.dispose();
    }
  }

  /**
   * apply() where the optimizer updates its small parameters at once (see Optimizer.splitFlat):
   * their gradients concatenated once, for the norm, the clipping and the update. The norm then
   * sums that vector in one reduction instead of parameter by parameter, so it can differ from
   * the per-parameter path's in the last float32 bits (and so can the clipping factor).
   */
  private applyFlat(split: FlatSplit, grads: tf.Tensor[]): void {
    const owned: tf.Tensor[] = [];
    try {
      let flat = flattenTensors(split.flatGrads);
      owned.push(flat);
      let rest = split.grads;
      const normT = tf.tidy(() => {
        const sums = [flat, ...rest].map((g) => tf.sum(tf.square(g)));
        return tf.sqrt(sums.length === 1 ? (sums[0] as tf.Tensor) : tf.addN(sums));
      });
      const norm = normT.dataSync()[0] as number;
      normT.dispose();
      if (!Number.isFinite(norm))
        throw new NonFiniteLossError("gradient norm", norm, this.step + 1, this.epoch);
      const lr = this.lr();
      const clip = this.opts.clipGradNorm;
      const scale = clip !== undefined && clip > 0 ? clipScale(norm, clip) : 1;
      if (scale < 1) {
        flat = tf.tidy(() => tf.mul(flat, scale));
        rest = rest.map((g) => tf.tidy(() => tf.mul(g, scale)));
        owned.push(flat, ...rest);
      }
      this.opts.optimizer.applySplit(
        { params: split.params, grads: rest, flat: split.flat, flatGrads: [], flatGrad: flat },
        lr,
      );
      this.lastUpdate = { lr, gradNorm: norm };
    } finally {
      for (const g of grads) g.dispose();
      for (const t of owned) t.dispose();
    }
  }

  /** Drops any partly accumulated gradients (end of an epoch with a short tail). */
  reset(): void {
    for (const g of this.accumulated.values()) g.dispose();
    this.accumulated.clear();
  }

  dispose(): void {
    this.reset();
  }
}
