/**
 * The optimizer base: our own, over `tf.Variable`s, so that every piece of state (moments,
 * momentum buffers, the step count) is a named tensor a checkpoint can save and restore exactly.
 *
 * Why not tf.train.*: tfjs' optimizers key their slots by the variables' auto-generated names,
 * which change between processes, and have no per-parameter weight-decay mask or LARS.
 *
 * Flat updates (issue 30). An optimizer whose update is element-wise (Adam, AdamW, SGD) can also
 * update every parameter at once: the gradients and the parameters concatenated into one float32
 * vector, the update's ~10 ops run once over it, the result split back. On the native TensorFlow
 * backend each op costs ~30-50 µs of dispatch whatever its size, so per-parameter updates of a
 * small network were ~230 ops a step; flat they are ~20 plus a Reshape per parameter of rank > 1.
 * Each element goes through the same float32 operations with the same scalars, so the update is
 * bit for bit the per-parameter one (tested). While flat, the slots live in flat vectors for that
 * list of parameters; `getState()` writes them back per parameter ("<param>/<slot>", the same
 * checkpoint format), `setState()` and a per-parameter update (a different subset of parameters,
 * mixed update counts) fold them back first. `flat` (optimizer option): true / false, or
 * undefined for the default: on where the active backend is "tensorflow" (or
 * `SELFSUP_FLAT_OPTIMIZER=1|0` says otherwise); wasm has a fused per-parameter Adam kernel instead.
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

/** What a flat update (`Optimizer.updateFlat`) gets: every vector is float32, in parameter order. */
export interface FlatUpdate {
  /** The gradients, concatenated. */
  grad: tf.Tensor;
  /** The parameters' current values, concatenated. */
  param: tf.Tensor;
  /** The optimizer's slots (`flatSlotNames`), concatenated; assign their new values. */
  slots: ReadonlyMap<string, tf.Variable>;
  /** The update count t >= 1, the same for every parameter of a flat update. */
  t: number;
  /** Which elements decay: all, none, or where `mask` is 1 (and `keep` = 1 - mask is 1 elsewhere). */
  decay: "all" | "none" | { mask: tf.Tensor; keep: tf.Tensor };
}

/** The flat slots of one list of parameters (see the file's comment). */
interface FlatLayout {
  names: string[];
  shapes: number[][];
  sizes: number[];
  slots: Map<string, tf.Variable>;
  decay: FlatUpdate["decay"];
}

/** One float32 vector of `tensors` (flattened, in order); reshapes only what is not 1-D. */
export function flattenTensors(tensors: readonly tf.Tensor[]): tf.Tensor {
  return tf.tidy(() => {
    const flat = tensors.map((t) => (t.rank === 1 ? t : tf.reshape(t, [-1])));
    return flat.length === 1 ? tf.clone(flat[0] as tf.Tensor) : tf.concat(flat);
  });
}

/** The inverse of flattenTensors: pieces of `flat` with these shapes (callers dispose them). */
export function unflattenTensor(flat: tf.Tensor, shapes: readonly number[][]): tf.Tensor[] {
  return tf.tidy(() => {
    const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const pieces = shapes.length === 1 ? [tf.clone(flat)] : tf.split(flat, sizes);
    return pieces.map((piece, i) => {
      const shape = shapes[i] as number[];
      return shape.length === 1 ? piece : tf.reshape(piece, shape);
    });
  });
}

/** The default of the `flat` option: on for the native TensorFlow backend (see above). */
export function flatUpdatesByDefault(): boolean {
  const env = process.env.SELFSUP_FLAT_OPTIMIZER;
  if (env === "1" || env === "0") return env === "1";
  if (env !== undefined && env !== "")
    throw new Error(`SELFSUP_FLAT_OPTIMIZER must be 1 or 0 (got "${env}")`);
  return tf.getBackend() === "tensorflow";
}

export abstract class Optimizer {
  abstract readonly name: string;
  /** Number of updates applied so far (Adam's bias correction uses it). */
  step = 0;
  /**
   * Update all parameters at once (true), per parameter (false), or as the backend suits
   * (undefined; see flatUpdatesByDefault). Only optimizers with `updateFlat` use it.
   */
  flat: boolean | undefined;
  private readonly slotVars = new Map<string, tf.Variable>();
  private readonly paramSteps = new Map<string, number>();
  /** Slots held flat for one list of parameters; the truth for those while set. */
  private flatLayout: FlatLayout | undefined;
  /** The slots a flat update keeps, created as zeros (e.g. Adam's "m" and "v"). */
  protected flatSlotNames: readonly string[] = [];

  /**
   * Applies one update with learning rate `lr`. `grads[i]` is the gradient of `params[i]`.
   * The caller keeps ownership of `grads`.
   */
  applyGradients(params: readonly ParamRef[], grads: readonly tf.Tensor[], lr: number): void {
    if (params.length !== grads.length) {
      throw new Error(`${this.name}: got ${grads.length} gradients for ${params.length} parameters`);
    }
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as ParamRef;
      const g = grads[i] as tf.Tensor;
      if (!shapesMatch(p.variable.shape, g.shape)) {
        throw new Error(
          `${this.name}: gradient of "${p.name}" has shape [${g.shape}] but the parameter is [${p.variable.shape}]`,
        );
      }
    }
    if (this.acceptsFlat(params) && grads.every((g) => g.dtype === "float32")) {
      const flat = flattenTensors(grads);
      try {
        this.applyFlatGradients(params, flat, lr);
      } finally {
        flat.dispose();
      }
      return;
    }
    this.foldFlatSlots();
    this.step += 1;
    for (let i = 0; i < params.length; i++) {
      const p = params[i] as ParamRef;
      this.paramSteps.set(p.name, (this.paramSteps.get(p.name) ?? 0) + 1);
      tf.tidy(() => this.update(p, grads[i] as tf.Tensor, lr));
    }
  }

  /**
   * Whether `applyFlatGradients` takes these parameters now: the optimizer has a flat update and
   * `flat` (or the backend's default) asks for it, every parameter is float32 and they have all
   * had the same number of updates.
   */
  acceptsFlat(params: readonly ParamRef[]): boolean {
    if (this.updateFlat === undefined || params.length === 0) return false;
    if (!(this.flat ?? flatUpdatesByDefault())) return false;
    const t = this.paramSteps.get((params[0] as ParamRef).name) ?? 0;
    return params.every((p) => p.variable.dtype === "float32" && (this.paramSteps.get(p.name) ?? 0) === t);
  }

  /**
   * Applies one update to all `params` at once from their gradients concatenated in `flatGrad`
   * (see flattenTensors; the caller keeps it). Only where `acceptsFlat(params)`.
   */
  applyFlatGradients(params: readonly ParamRef[], flatGrad: tf.Tensor, lr: number): void {
    const update = this.updateFlat;
    if (update === undefined || !this.acceptsFlat(params))
      throw new Error(`${this.name}: applyFlatGradients() where acceptsFlat() is false`);
    const layout = this.layoutFor(params);
    const total = layout.sizes.reduce((a, b) => a + b, 0);
    if (flatGrad.rank !== 1 || flatGrad.size !== total || flatGrad.dtype !== "float32") {
      throw new Error(
        `${this.name}: flat gradient is ${flatGrad.dtype} [${flatGrad.shape}] but the ${params.length} parameters hold ${total} float32 values`,
      );
    }
    this.step += 1;
    for (const p of params) this.paramSteps.set(p.name, (this.paramSteps.get(p.name) ?? 0) + 1);
    const t = this.paramSteps.get((params[0] as ParamRef).name) as number;
    tf.tidy(() => {
      const param = flattenTensors(params.map((p) => p.variable));
      const next = update.call(
        this,
        { grad: flatGrad, param, slots: layout.slots, t, decay: layout.decay },
        lr,
      );
      const pieces = unflattenTensor(next, layout.shapes);
      params.forEach((p, i) => {
        p.variable.assign(pieces[i] as tf.Tensor);
      });
    });
  }

  /** One parameter's update, run inside `tf.tidy`; assign new values to the variable and slots. */
  protected abstract update(p: ParamRef, g: tf.Tensor, lr: number): void;

  /**
   * The update of every parameter at once (run inside `tf.tidy`): assign the slots' new values,
   * return the parameters' new values as one vector. Element for element the same float32
   * operations as `update`, so that both give the same result bit for bit.
   */
  protected updateFlat?(u: FlatUpdate, lr: number): tf.Tensor;

  /** The flat slots for this list of parameters, made from the per-parameter ones where needed. */
  private layoutFor(params: readonly ParamRef[]): FlatLayout {
    const current = this.flatLayout;
    if (
      current !== undefined &&
      current.names.length === params.length &&
      params.every(
        (p, i) => p.name === current.names[i] && shapesMatch(p.variable.shape, current.shapes[i] ?? []),
      )
    )
      return current;
    this.foldFlatSlots();
    const shapes = params.map((p) => p.variable.shape.slice());
    const sizes = params.map((p) => p.variable.size);
    const slots = new Map<string, tf.Variable>();
    for (const slotName of this.flatSlotNames) {
      const pieces = params.map((p) => {
        const key = `${p.name}/${slotName}`;
        const v = this.slotVars.get(key);
        if (v !== undefined && !shapesMatch(v.shape, p.variable.shape)) {
          throw new Error(
            `${this.name}: slot "${key}" has shape [${v.shape}] but the parameter is [${p.variable.shape}]`,
          );
        }
        return v;
      });
      const flat = tf.tidy(() =>
        flattenTensors(pieces.map((v, i) => v ?? tf.zeros(shapes[i] as number[], "float32"))),
      );
      slots.set(slotName, tf.variable(flat, false));
      flat.dispose();
      for (const p of params) {
        const key = `${p.name}/${slotName}`;
        this.slotVars.get(key)?.dispose();
        this.slotVars.delete(key);
      }
    }
    const decaying = params.filter((p) => p.decay).length;
    let decay: FlatUpdate["decay"] = "none";
    if (decaying === params.length) decay = "all";
    else if (decaying > 0) {
      const mask = new Float32Array(sizes.reduce((a, b) => a + b, 0));
      let at = 0;
      params.forEach((p, i) => {
        const n = sizes[i] as number;
        if (p.decay) mask.fill(1, at, at + n);
        at += n;
      });
      decay = {
        mask: tf.tensor1d(mask, "float32"),
        keep: tf.tensor1d(
          mask.map((x) => 1 - x),
          "float32",
        ),
      };
    }
    this.flatLayout = { names: params.map((p) => p.name), shapes, sizes, slots, decay };
    return this.flatLayout;
  }

  /** Writes the flat slots back as per-parameter slots (keeping the flat ones as they are). */
  private writeBackFlatSlots(): void {
    const layout = this.flatLayout;
    if (layout === undefined) return;
    for (const [slotName, flat] of layout.slots) {
      const pieces = unflattenTensor(flat, layout.shapes);
      layout.names.forEach((name, i) => {
        const key = `${name}/${slotName}`;
        this.slotVars.get(key)?.dispose();
        this.slotVars.set(key, tf.variable(pieces[i] as tf.Tensor, false));
        (pieces[i] as tf.Tensor).dispose();
      });
    }
  }

  /** Ends flat updates: the per-parameter slots become the truth again. */
  private foldFlatSlots(): void {
    if (this.flatLayout === undefined) return;
    this.writeBackFlatSlots();
    this.disposeFlatLayout();
  }

  private disposeFlatLayout(): void {
    const layout = this.flatLayout;
    if (layout === undefined) return;
    for (const v of layout.slots.values()) v.dispose();
    if (typeof layout.decay === "object") {
      layout.decay.mask.dispose();
      layout.decay.keep.dispose();
    }
    this.flatLayout = undefined;
  }

  /** How many updates this parameter has received, including the current one (t >= 1). */
  protected paramStep(p: ParamRef): number {
    return this.paramSteps.get(p.name) ?? 0;
  }

  /** The named slot of a parameter, created as zeros on first use. */
  protected slot(p: ParamRef, slotName: string): tf.Variable {
    this.foldFlatSlots();
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

  /**
   * The current state; slot tensors are the live variables (copy them if you keep them past a
   * step). Flat slots are written back per parameter first, so the format is the same.
   */
  getState(): OptimizerState {
    this.writeBackFlatSlots();
    return {
      step: this.step,
      paramSteps: Object.fromEntries(this.paramSteps),
      slots: new Map(this.slotVars),
    };
  }

  /** Replaces all state with copies of the given tensors (the caller keeps ownership of them). */
  setState(state: OptimizerState): void {
    this.disposeFlatLayout();
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
    this.disposeFlatLayout();
    for (const v of this.slotVars.values()) v.dispose();
    this.slotVars.clear();
  }
}

export function shapesMatch(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
