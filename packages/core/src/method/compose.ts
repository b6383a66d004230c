/**
 * Composition: several methods trained on ONE shared backbone in ONE optimizer step, e.g.
 * SimCLR + 0.5 x rotation (the pairing of a joint-embedding loss with a pretext task that the
 * CIFAR-10 walk-throughs use). Any methods whose inputs fit combine; nothing here knows a method.
 *
 *   loss = L_primary + sum_i w_i L_aux_i      (one gradient, one update of every variable)
 *
 * How: every method is built from one `sharedBackboneContext`, whose un-named `buildBackbone()`
 * returns the same backbone instance each time, so `this.addBackbone()` in each method declares
 * the same module. Each step the composite first runs each auxiliary's `trainStep` with a
 * StepContext whose `minimize(lossFn)` only records `lossFn`; then it runs the primary's
 * `trainStep` with a StepContext whose `minimize` calls the real one on
 * `() => primaryLoss + sum_i w_i auxLoss_i`, the auxiliaries' losses and metrics reported as
 * metrics `aux.<name>.loss`, `aux.<name>.<metric>` (and the primary's own as `primary.loss`).
 *
 * The contract this puts on an auxiliary: everything its step does happens inside the lossFn it
 * hands to `ctx.minimize` (tensor preparation, random draws, metrics), because that function runs
 * later, inside the primary's. A method that updates state after minimize returns (BYOL's and
 * MoCo's EMA, MoCo's queue) cannot be an auxiliary: its spec says `composable: false`, and without
 * a word from the spec, auxiliaries holding non-trainable modules or state are refused. The
 * primary has no such constraint.
 *
 * Checkpoint names: the primary's modules and state keep theirs; an auxiliary's are prefixed
 * `<name>.` (a dot, not a slash: checkpoint keys are `<module>/<param>` and the first slash
 * separates the module). The shared backbone is listed once, under the primary's name.
 */
import type { FeatureModule, Module } from "../nn/module.js";
import type {
  AugmentationConfig,
  EpochContext,
  InputSpec,
  LossOutput,
  Method,
  MethodBuildContext,
  MethodSpec,
  StepContext,
  StepResult,
  TrainBatch,
} from "../plugin/types.js";
import { tf } from "../tf.js";

/**
 * A build context whose un-named `buildBackbone()` (no options, the run's input) builds the run's
 * backbone once and returns that instance on every later call. With an input override (jigsaw's
 * tiles), the shared backbone is returned when it accepts that input (a backbone that pools over
 * space, as the convnet and ResNets do, takes any image size with the same channels); otherwise a
 * separate backbone is built, which that method then trains on its own.
 */
export function sharedBackboneContext(
  ctx: MethodBuildContext,
): MethodBuildContext & { shared(): FeatureModule | undefined } {
  let shared: FeatureModule | undefined;
  const get = (): FeatureModule => {
    shared ??= ctx.buildBackbone();
    return shared;
  };
  return {
    input: ctx.input,
    rng: ctx.rng,
    shared: () => shared,
    buildBackbone(name, options, input) {
      if (name !== undefined || options !== undefined) return ctx.buildBackbone(name, options, input);
      if (input === undefined || sameInput(input, ctx.input)) return get();
      const backbone = get();
      if (accepts(backbone, input)) return backbone;
      return ctx.buildBackbone(undefined, undefined, input);
    },
    buildHead: (name, options, inputDim) => ctx.buildHead(name, options, inputDim),
    ...(ctx.backboneChoice ? { backboneChoice: ctx.backboneChoice } : {}),
  };
}

function sameInput(a: InputSpec, b: InputSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Does `backbone` map a batch of `input` to [1, outputDim]? (A probe forward in eval mode.) */
function accepts(backbone: FeatureModule, input: InputSpec): boolean {
  if (input.kind !== "image") return false;
  const was = backbone.training;
  backbone.eval();
  try {
    const shape = tf.tidy(
      () => backbone.forward(tf.zeros([1, input.height, input.width, input.channels])).shape,
    );
    return shape.length === 2 && shape[1] === backbone.outputDim;
  } catch {
    return false;
  } finally {
    backbone.train(was);
  }
}

export interface AuxiliaryMethod {
  method: Method;
  /** Weight of its loss in the sum. */
  weight: number;
  /** Prefix of its metrics, modules and state (default: method.name). */
  name?: string;
  /** From its spec (see MethodSpec.composable). */
  composable?: boolean;
}

/** Modules of `m` none of whose parameters is trainable (momentum copies, frozen targets). */
function frozenModules(m: Method): string[] {
  const trainable = new Set(m.trainableVariables());
  return Object.entries(m.modules())
    .filter(([, mod]) => {
      const params = mod.namedParameters();
      return params.length > 0 && params.every((p) => !trainable.has(p.variable));
    })
    .map(([name]) => name);
}

function checkAuxiliary(a: AuxiliaryMethod, name: string): void {
  if (!(Number.isFinite(a.weight) && a.weight >= 0))
    throw new Error(`auxiliary "${name}": weight must be a finite number >= 0, got ${a.weight}`);
  if (a.composable === false)
    throw new Error(
      `method "${a.method.name}" cannot be an auxiliary: it updates state after ctx.minimize returns (its spec says composable: false); make it the primary method instead`,
    );
  if (a.composable === undefined) {
    const frozen = frozenModules(a.method);
    const state = Object.keys(a.method.state?.() ?? {});
    if (frozen.length > 0 || state.length > 0) {
      throw new Error(
        `method "${a.method.name}" cannot be an auxiliary: it has ${[
          ...frozen.map((f) => `non-trainable module "${f}"`),
          ...state.map((s) => `state "${s}"`),
        ].join(", ")}, which methods usually update after ctx.minimize returns (EMA, queues). ` +
          "If every update happens inside its minimize lossFn, set `composable: true` on its spec",
      );
    }
  }
}

/** The composite Method (see the module comment), named `name` or "primary+aux+...". Auxiliaries' names must be unique. */
export function composeMethods(primary: Method, auxiliaries: AuxiliaryMethod[], name?: string): Method {
  const aux = auxiliaries.map((a) => ({ ...a, name: a.name ?? a.method.name }));
  const names = new Set<string>();
  for (const a of aux) {
    if (names.has(a.name) || a.name === "primary")
      throw new Error(
        `auxiliary name "${a.name}" is used twice (or is "primary"); give each a distinct name`,
      );
    names.add(a.name);
    checkAuxiliary(a, a.name);
  }
  return new ComposedMethod(primary, aux, name);
}

class ComposedMethod implements Method {
  readonly name: string;
  readonly views: number;

  constructor(
    readonly primary: Method,
    readonly auxiliaries: Array<AuxiliaryMethod & { name: string }>,
    /** A spec's name when a spec builds the composite (`ctx.method`), else "primary+aux+...". */
    name?: string,
  ) {
    this.name = name ?? [primary.name, ...auxiliaries.map((a) => a.name)].join("+");
    this.views = Math.max(primary.views, ...auxiliaries.map((a) => a.method.views));
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const captured: Array<{ name: string; weight: number; lossFn: () => LossOutput; vars?: tf.Variable[] }> =
      [];
    for (const a of this.auxiliaries) {
      let recorded = false;
      const capture: StepContext = {
        step: ctx.step,
        epoch: ctx.epoch,
        totalSteps: ctx.totalSteps,
        rng: ctx.rng,
        minimize: (lossFn, vars) => {
          if (recorded) throw new Error(`auxiliary "${a.name}" called ctx.minimize twice in one step`);
          recorded = true;
          captured.push({ name: a.name, weight: a.weight, lossFn, ...(vars ? { vars } : {}) });
          return { loss: Number.NaN, metrics: {} };
        },
      };
      a.method.trainStep(batch, capture);
      if (!recorded)
        throw new Error(`auxiliary "${a.name}": trainStep returned without calling ctx.minimize()`);
    }
    let called = false;
    const combined: StepContext = {
      step: ctx.step,
      epoch: ctx.epoch,
      totalSteps: ctx.totalSteps,
      rng: ctx.rng,
      minimize: (lossFn, vars) => {
        if (called) throw new Error(`primary "${this.primary.name}" called ctx.minimize twice in one step`);
        called = true;
        // The primary's explicit list (if any) plus every auxiliary's (explicit, else its trainables).
        const allVars = vars
          ? [
              ...new Set([
                ...vars,
                ...captured.flatMap(
                  (c, i) => c.vars ?? (this.auxiliaries[i] as AuxiliaryMethod).method.trainableVariables(),
                ),
              ]),
            ]
          : undefined;
        return ctx.minimize(() => {
          const out = lossFn();
          const metrics: Record<string, tf.Scalar> = { ...(out.metrics ?? {}), "primary.loss": out.loss };
          let total: tf.Scalar = out.loss;
          for (const c of captured) {
            const o = c.lossFn();
            metrics[`aux.${c.name}.loss`] = o.loss;
            for (const [k, v] of Object.entries(o.metrics ?? {})) metrics[`aux.${c.name}.${k}`] = v;
            total = tf.add(total, tf.mul(o.loss, c.weight)) as tf.Scalar;
          }
          return { loss: total, metrics };
        }, allVars);
      },
    };
    return this.primary.trainStep(batch, combined);
  }

  encoder(): FeatureModule {
    return this.primary.encoder();
  }

  modules(): Record<string, Module> {
    const out: Record<string, Module> = { ...this.primary.modules() };
    const seen = new Set(Object.values(out));
    for (const a of this.auxiliaries) {
      for (const [name, m] of Object.entries(a.method.modules())) {
        if (seen.has(m)) continue;
        seen.add(m);
        out[`${a.name}.${name}`] = m;
      }
    }
    return out;
  }

  trainableVariables(): tf.Variable[] {
    return [
      ...new Set([
        ...this.primary.trainableVariables(),
        ...this.auxiliaries.flatMap((a) => a.method.trainableVariables()),
      ]),
    ];
  }

  state(): Record<string, tf.Variable> {
    const out: Record<string, tf.Variable> = { ...(this.primary.state?.() ?? {}) };
    for (const a of this.auxiliaries)
      for (const [name, v] of Object.entries(a.method.state?.() ?? {})) out[`${a.name}.${name}`] = v;
    return out;
  }

  defaultAugmentation(input: InputSpec): AugmentationConfig[] {
    const withViews = [this.primary, ...this.auxiliaries.map((a) => a.method)].find((m) => m.views > 0);
    return withViews?.defaultAugmentation?.(input) ?? [];
  }

  async onEpochStart(ctx: EpochContext): Promise<void> {
    await this.primary.onEpochStart?.(ctx);
    for (const a of this.auxiliaries) await a.method.onEpochStart?.(ctx);
  }

  async onEpochEnd(ctx: EpochContext): Promise<void> {
    await this.primary.onEpochEnd?.(ctx);
    for (const a of this.auxiliaries) await a.method.onEpochEnd?.(ctx);
  }

  dispose(): void {
    // the shared backbone belongs to every method: dispose each module once
    const modules = Object.values(this.modules());
    const state = Object.values(this.state());
    for (const m of new Set(modules)) m.dispose();
    for (const v of new Set(state)) v.dispose();
  }
}

/** One auxiliary as a run config names it: a spec, its raw options and its weight. */
export interface AuxiliarySpec {
  spec: MethodSpec;
  /** Raw options, parsed with the spec's schema. */
  options?: Record<string, unknown>;
  weight: number;
  /** Prefix of its metrics and checkpoint names (default: the spec's name). */
  name?: string;
}

/**
 * What the runner calls for `method` + `auxiliary: [{ name, weight, options }]`: builds the
 * primary and every auxiliary from one shared-backbone context over `ctx` and composes them.
 * Refuses auxiliaries whose inputs do not include the run's input kind.
 */
export function composeMethodSpecs(
  primary: MethodSpec,
  primaryOptions: Record<string, unknown>,
  auxiliaries: AuxiliarySpec[],
  ctx: MethodBuildContext,
): Method {
  const shared = sharedBackboneContext(ctx);
  const parse = (spec: MethodSpec, raw: Record<string, unknown>) => {
    const parsed = spec.options.safeParse(raw);
    if (!parsed.success) throw new Error(`method "${spec.name}": invalid options: ${parsed.error.message}`);
    return parsed.data;
  };
  for (const a of auxiliaries) {
    if (!a.spec.inputs.includes(ctx.input.kind))
      throw new Error(
        `auxiliary "${a.spec.name}" takes ${a.spec.inputs.join(", ")} inputs, but this run's input is ${ctx.input.kind}`,
      );
  }
  const built: Method[] = [];
  try {
    const p = primary.create(parse(primary, primaryOptions), shared);
    built.push(p);
    const aux = auxiliaries.map((a) => {
      const m = a.spec.create(parse(a.spec, a.options ?? {}), shared);
      built.push(m);
      return {
        method: m,
        weight: a.weight,
        name: a.name ?? a.spec.name,
        ...(a.spec.composable !== undefined ? { composable: a.spec.composable } : {}),
      };
    });
    return composeMethods(p, aux, ctx.method); // built by a spec: its name
  } catch (err) {
    const seen = new Set<Module>();
    for (const m of built)
      for (const mod of Object.values(m.modules())) {
        if (!seen.has(mod)) mod.dispose();
        seen.add(mod);
      }
    throw err;
  }
}
