/**
 * The module system: a small, PyTorch-like tree of modules over `tf.Variable`s.
 *
 * Why our own and not tfjs-layers: methods need train/eval mode for BatchNorm's running stats,
 * a state dict with stable dotted names for checkpoints, `clone()` of an architecture for
 * momentum/EMA copies (MoCo, BYOL), per-parameter weight-decay masks, and forward passes that take
 * extra inputs (a ViT's patch mask). tfjs-layers has none of these in a form we can rely on.
 */
import { tf } from "../tf.js";

export interface ParameterOptions {
  /** Apply weight decay to this parameter (false for biases and norm scales/shifts). */
  decay?: boolean;
  /** Trainable by the optimizer (default true). */
  trainable?: boolean;
}

export interface ForwardOptions {
  /** Per-sample boolean mask over patches/tokens, 1 = masked ([B, N]); used by ViT-style encoders. */
  mask?: tf.Tensor;
  /** Return per-token features instead of the pooled vector (ViT: [B, 1+N, D]). */
  tokens?: boolean;
}

export interface NamedParameter {
  name: string;
  variable: tf.Variable;
  decay: boolean;
}

export abstract class Module {
  /** Train mode (BatchNorm uses batch statistics and updates running ones; dropout active). */
  training = true;
  private readonly ownParams = new Map<string, { variable: tf.Variable; decay: boolean }>();
  private readonly ownBuffers = new Map<string, tf.Variable>();
  private readonly children = new Map<string, Module>();

  abstract forward(x: tf.Tensor, opts?: ForwardOptions): tf.Tensor;

  /**
   * A new, independent module of the same architecture (fresh variables). `clone()` builds on
   * it and copies the weights. Every concrete module implements it from its constructor options.
   */
  protected abstract recreate(): Module;

  /** Same architecture, same weights and buffers, new variables (no sharing). */
  clone(): this {
    const copy = this.recreate() as this;
    copy.copyFrom(this);
    copy.train(this.training);
    return copy;
  }

  protected addParameter(name: string, init: tf.Tensor, opts: ParameterOptions = {}): tf.Variable {
    this.assertFreeName(name);
    const variable = tf.variable(init, opts.trainable ?? true);
    init.dispose();
    this.ownParams.set(name, { variable, decay: opts.decay ?? true });
    return variable;
  }

  /** Non-trainable state saved with the module (BatchNorm running mean/var, a queue, ...). */
  protected addBuffer(name: string, init: tf.Tensor): tf.Variable {
    this.assertFreeName(name);
    const variable = tf.variable(init, false);
    init.dispose();
    this.ownBuffers.set(name, variable);
    return variable;
  }

  protected addModule<M extends Module>(name: string, module: M): M {
    this.assertFreeName(name);
    this.children.set(name, module);
    return module;
  }

  private assertFreeName(name: string): void {
    if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`invalid module member name "${name}"`);
    if (this.ownParams.has(name) || this.ownBuffers.has(name) || this.children.has(name)) {
      throw new Error(`module member "${name}" is already defined in ${this.constructor.name}`);
    }
  }

  namedChildren(): Array<[string, Module]> {
    return [...this.children.entries()];
  }

  /** All parameters of this module and its descendants, with dotted names. */
  namedParameters(prefix = ""): NamedParameter[] {
    const out: NamedParameter[] = [];
    for (const [name, p] of this.ownParams)
      out.push({ name: prefix + name, variable: p.variable, decay: p.decay });
    for (const [name, child] of this.children) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  namedBuffers(prefix = ""): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const [name, b] of this.ownBuffers) out.push([prefix + name, b]);
    for (const [name, child] of this.children) out.push(...child.namedBuffers(`${prefix}${name}.`));
    return out;
  }

  /** Trainable variables, in a stable order (the optimizer keys its slots by this order). */
  trainableVariables(): tf.Variable[] {
    return this.namedParameters()
      .filter((p) => p.variable.trainable)
      .map((p) => p.variable);
  }

  parameterCount(): number {
    return this.namedParameters().reduce((n, p) => n + p.variable.size, 0);
  }

  train(mode = true): this {
    this.training = mode;
    for (const child of this.children.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameters and buffers by dotted name (the variables themselves, not copies). */
  stateDict(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const p of this.namedParameters()) out.set(p.name, p.variable);
    for (const [name, b] of this.namedBuffers()) out.set(name, b);
    return out;
  }

  /**
   * Assign values by dotted name. Names and shapes must match exactly; the error lists what is
   * missing, unexpected or of the wrong shape.
   */
  loadStateDict(values: ReadonlyMap<string, tf.Tensor> | Record<string, tf.Tensor>): void {
    const incoming = values instanceof Map ? values : new Map(Object.entries(values));
    const own = this.stateDict();
    const problems: string[] = [];
    for (const name of own.keys()) if (!incoming.has(name)) problems.push(`missing "${name}"`);
    for (const name of incoming.keys()) if (!own.has(name)) problems.push(`unexpected "${name}"`);
    for (const [name, v] of own) {
      const t = incoming.get(name);
      if (t && !shapesEqual(t.shape, v.shape)) {
        problems.push(`"${name}" has shape [${t.shape}] but the module expects [${v.shape}]`);
      }
    }
    if (problems.length > 0) {
      throw new Error(`cannot load state into ${this.constructor.name}: ${problems.join("; ")}`);
    }
    for (const [name, v] of own) v.assign(incoming.get(name)!);
  }

  /** Copy weights and buffers from a module of the same architecture. */
  copyFrom(other: Module): void {
    this.loadStateDict(other.stateDict());
  }

  dispose(): void {
    for (const p of this.ownParams.values()) p.variable.dispose();
    for (const b of this.ownBuffers.values()) b.dispose();
    for (const c of this.children.values()) c.dispose();
    this.ownParams.clear();
    this.ownBuffers.clear();
    this.children.clear();
  }
}

export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A module with a known output feature size: backbones and heads. */
export interface FeatureModule extends Module {
  readonly outputDim: number;
}
