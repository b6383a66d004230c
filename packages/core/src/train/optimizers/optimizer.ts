/**
 * The optimizer base: our own, over `tf.Variable`s, so that every piece of state (moments,
 * momentum buffers, the step count) is a named tensor a checkpoint can save and restore exactly.
 *
 * Why not tf.train.*: tfjs' optimizers key their slots by the variables' auto-generated names,
 * which change between processes, and have no per-parameter weight-decay mask or LARS.
 *
 * Flat updates (issue 30). An optimizer whose update is element-wise (Adam, AdamW, SGD) can also
 * update many parameters at once: their gradients and values concatenated into one float32
 * vector, the update's ~10-15 ops run once over it, the result split back. Each TensorFlow op
 * costs its dispatch whatever its size, and a network's many small tensors (biases, norms, small
 * convolutions) were most of the ~230 update ops a step of the convnet; large tensors cost their
 * arithmetic instead, and concatenating them would add passes over memory (and malloc maps tensors
 * of tens of MB fresh at every op), so parameters above FLAT_MAX_VALUES values stay per parameter
 * (`splitFlat`). Each element goes through the same float32 operations with the same scalars,
 * so the update is bit for bit the per-parameter one (tested). While flat, the slots of those
 * parameters live in flat vectors; `getState()` writes them back per parameter
 * ("<param>/<slot>", the same checkpoint format), and `setState()`, a per-parameter update of one
 * of them or a different list of flat parameters fold them back first. `flat` (optimizer option):
 * true / false, or undefined for the default: on where the active backend is "tensorflow"
 * (`SELFSUP_FLAT_OPTIMIZER=1|0` overrides); wasm has a fused per-parameter Adam kernel instead.
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

/** A split of parameters and their gradients into per-parameter and flat updates (Optimizer.splitFlat). */
export interface FlatSplit {
  params: ParamRef[];
  grads: tf.Tensor[];
  flat: ParamRef[];
  flatGrads: tf.Tensor[];
}

/**
 * The largest parameter (in values) a flat update takes: 2^16 (256 KiB of float32). Larger
 * tensors cost their arithmetic, not their dispatch; concatenated they would cost two more passes
 * over memory, and vectors of tens of MB are mapped fresh by malloc at every op (ResNet-18's 11.5M
 * parameters in one vector: 570 ms an update against 125 ms per parameter).
 */
export const FLAT_MAX_VALUES = 65536;

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
    const split = this.splitFlat(params, grads);
    const flatGrad = split.flat.length > 0 ? flattenTensors(split.flatGrads) : undefined;
    try {
      this.applySplit({ ...split, flatGrad }, lr);
    } finally {
      flatGrad?.dispose();
    }
  }

  /**
   * Which parameters a flat update takes now (see the file's comment): where the optimizer has
   * one and `flat` (or the backend's default) asks for it, the float32 parameters of at most
   * FLAT_MAX_VALUES values each, if at least two and all with the same update count; larger ones
   * stay per parameter, where the arithmetic outweighs the dispatch and concatenating them would
   * only add passes over memory. `flat` is empty where no flat update applies.
   */
  splitFlat(params: readonly ParamRef[], grads: readonly tf.Tensor[]): FlatSplit {
    const all: FlatSplit = { params: [...params], grads: [...grads], flat: [], flatGrads: [] };
    if (this.updateFlat === undefined || !(this.flat ?? flatUpdatesByDefault())) return all;
    const out: FlatSplit = { params: [], grads: [], flat: [], flatGrads: [] };
    params.forEach((p, i) => {
      const g = grads[i] as tf.Tensor;
      const small =
        p.variable.dtype === "float32" && g.dtype === "float32" && p.variable.size <= FLAT_MAX_VALUES;
      (small ? out.flat : out.params).push(p);
      (small ? out.flatGrads : out.grads).push(g);
    });
    if (out.flat.length < 2) return all;
    const t = this.paramSteps.get((out.flat[0] as ParamRef).name) ?? 0;
    if (!out.flat.every((p) => (this.paramSteps.get(p.name) ?? 0) === t)) return all;
    return out;
  }

  /**
   * One update of `split` (from splitFlat): its per-parameter part one by one, its flat part at
   * once from `flatGrad`, the flat part's gradients concatenated (flattenTensors; the caller
   * keeps it and the other gradients).
   */
  applySplit(split: FlatSplit & { flatGrad?: tf.Tensor | undefined }, lr: number): void {
    const update = this.updateFlat;
    const flat = split.flat;
    if (flat.length > 0 && (update === undefined || split.flatGrad === undefined))
      throw new Error(`${this.name}: a flat update without ${update ? "its gradient" : "updateFlat"}`);
    const layout = flat.length > 0 ? this.layoutFor(flat) : undefined;
    if (layout !== undefined) {
      const total = layout.sizes.reduce((a, b) => a + b, 0);
      const g = split.flatGrad as tf.Tensor;
      if (g.rank !== 1 || g.size !== total || g.dtype !== "float32") {
        throw new Error(
          `${this.name}: flat gradient is ${g.dtype} [${g.shape}] but the ${flat.length} parameters hold ${total} float32 values`,
        );
      }
    } else if (
      this.flatLayout !== undefined &&
      split.params.some((p) => this.flatLayout?.names.includes(p.name))
    ) {
      this.foldFlatSlots();
    }
    this.step += 1;
    split.params.forEach((p, i) => {
      this.paramSteps.set(p.name, (this.paramSteps.get(p.name) ?? 0) + 1);
      tf.tidy(() => this.update(p, split.grads[i] as tf.Tensor, lr));
    });
    if (layout === undefined || update === undefined) return;
    for (const p of flat) this.paramSteps.set(p.name, (this.paramSteps.get(p.name) ?? 0) + 1);
    const t = this.paramSteps.get((flat[0] as ParamRef).name) as number;
    tf.tidy(() => {
      const param = flattenTensors(flat.map((p) => p.variable));
      const next = update.call(
        this,
        { grad: split.flatGrad as tf.Tensor, param, slots: layout.slots, t, decay: layout.decay },
        lr,
      );
      const pieces = unflattenTensor(next, layout.shapes);
      flat.forEach((p, i) => {
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
    if (this.flatLayout?.names.includes(p.name)) this.foldFlatSlots();
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
   * step). Flat slots are written back per parameter first, so the format is the same; slots and
   * step counts are listed by name, so a checkpoint's bytes do not depend on which were flat.
   */
  getState(): OptimizerState {
    this.writeBackFlatSlots();
    return {
      step: this.step,
      paramSteps: Object.fromEntries([...this.paramSteps].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      slots: new Map([...this.slotVars].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
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
