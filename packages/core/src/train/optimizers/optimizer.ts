/**
 * The optimizer base: our own, over `tf.Variable`s, so that every piece of state (moments,
 * momentum buffers, the step count) is a named tensor a checkpoint can save and restore exactly.
 *
 * Why not tf.train.*: tfjs' optimizers key their slots by the variables' auto-generated names,
 * which change between processes, and have no per-parameter weight-decay mask or LARS.
 */
import { tf } from "../../tf.js";

/** A parameter as the optimizer sees it: a stable name (for checkpoints) and its decay flag. */
export interface ParamRef {
  /** Stable dotted name, e.g. "encoder.layer1.weight"; slots are saved under it. */
  name: string;
  variable: tf.Variable;
  /** Apply weight decay (and, for LARS, trust-ratio adaptation) to this parameter. */
  decay: boolean;
}

/** Everything needed to continue optimisation exactly: the update count and every slot by name. */
export interface OptimizerState {
  /** Number of updates applied so far. */
  step: number;
  /** Updates applied per parameter name (a method may update disjoint subsets in one step). */
  paramSteps: Record<string, number>;
  /** Slot tensors keyed "<param name>/<slot name>" (e.g. "encoder.fc.weight/m"). */
  slots: Map<string, tf.Tensor>;
}

export abstract class Optimizer {
  abstract readonly name: string;
  /** Number of updates applied so far (Adam's bias correction uses it). */
  step = 0;
  private readonly slotVars = new Map<string, tf.Variable>();
  private readonly paramSteps = new Map<string, number>();

  /**
   * Applies one update with learning rate `lr`. `grads[i]` is the gradient of `params[i]`.
   * The caller keeps ownership of `grads`.
   */
  applyGradients(params: readonly ParamRef[], grads: readonly tf.Tensor[], lr: number): void {
    if (params.length !== grads.length) {
      throw new Error(`${this.name}: got ${grads.length} gradients for ${params.length} parameters`);
    }
    this.step += 1;
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as ParamRef;
      const g = grads[i] as tf.Tensor;
      if (!shapesMatch(p.variable.shape, g.shape)) {
        throw new Error(
          `${this.name}: gradient of "${p.name}" has shape [${g.shape}] but the parameter is [${p.variable.shape}]`,
        );
      }
      this.paramSteps.set(p.name, (this.paramSteps.get(p.name) ?? 0) + 1);
      tf.tidy(() => this.update(p, g, lr));
    }
  }

  /** One parameter's update, run inside `tf.tidy`; assign new values to the variable and slots. */
  protected abstract update(p: ParamRef, g: tf.Tensor, lr: number): void;

  /** How many updates this parameter has received, including the current one (t >= 1). */
  protected paramStep(p: ParamRef): number {
    return this.paramSteps.get(p.name) ?? 0;
  }

  /** The named slot of a parameter, created as zeros on first use. */
  protected slot(p: ParamRef, slotName: string): tf.Variable {
    const key = `${p.name}/${slotName}`;
    let v = this.slotVars.get(key);
    if (!v) {
      const zeros = tf.zerosLike(p.variable);
      v = tf.variable(zeros, false);
      zeros.dispose();
      this.slotVars.set(key, v);
    } else if (!shapesMatch(v.shape, p.variable.shape)) {
      throw new Error(
        `${this.name}: slot "${key}" has shape [${v.shape}] but the parameter is [${p.variable.shape}]`,
      );
    }
    return v;
  }

  /** The current state; slot tensors are the live variables (copy them if you keep them past a step). */
  getState(): OptimizerState {
    return {
      step: this.step,
      paramSteps: Object.fromEntries(this.paramSteps),
      slots: new Map(this.slotVars),
    };
  }

  /** Replaces all state with copies of the given tensors (the caller keeps ownership of them). */
  setState(state: OptimizerState): void {
    for (const v of this.slotVars.values()) v.dispose();
    this.slotVars.clear();
    for (const [key, t] of state.slots) {
      if (!key.includes("/")) throw new Error(`${this.name}: slot key "${key}" is not "<param>/<slot>"`);
      // tf.variable shares t's data by reference count, so the caller may dispose t afterwards.
      this.slotVars.set(key, tf.variable(t, false));
    }
    this.step = state.step;
    this.paramSteps.clear();
    for (const [name, n] of Object.entries(state.paramSteps)) this.paramSteps.set(name, n);
  }

  dispose(): void {
    for (const v of this.slotVars.values()) v.dispose();
    this.slotVars.clear();
  }
}

export function shapesMatch(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
