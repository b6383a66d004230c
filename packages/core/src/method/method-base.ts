/**
 * The base every method of ours (and any plugin's, if it likes) extends: declare each module once
 * with `this.module(...)` and `trainableVariables`, `modules` (checkpointed state), `state`,
 * `encoder` and `dispose` follow from the declarations. A method file then holds only its math:
 *
 *   class BYOL extends MethodBase<BYOLOptions> {
 *     readonly views = 2;
 *     readonly backbone = this.addBackbone();
 *     readonly projector = this.addProjector({ layers: 2, batchNorm: true, ...projectorWidths(this.options) });
 *     readonly predictor = this.addPredictor(this.options.projectorHiddenDim);
 *     readonly target = this.addMomentumEncoder("target");
 *     trainStep(batch, ctx) { ... ctx.minimize(() => ...) ... this.target.update(tau) }
 *   }
 *
 * Field initialisers run in declaration order after this constructor, so a module declared later
 * can use an earlier one (the projector reads `this.backbone.outputDim`) and `this.options`.
 * The method's `name` is its spec's: `defineMethod`'s `create` passes it as `ctx.method`.
 */
import { type CropSet, checkBackboneSizes, MultiCrop } from "../augment/multi-crop.js";
import { defaultPipelineFor } from "../augment/presets.js";
import type { FeatureModule, Module } from "../nn/module.js";
import type {
  AugmentationConfig,
  InputSpec,
  Method,
  MethodBuildContext,
  StepContext,
  StepResult,
  TrainBatch,
} from "../plugin/types.js";
import type { tf } from "../tf.js";
import { buildPredictor, buildProjector, type MlpSpec } from "./heads.js";
import { MomentumEncoder, momentumCopy } from "./momentum.js";

export interface ModuleDeclaration {
  /** Trained by the optimizer (default true). Momentum copies and frozen targets say false. */
  trainable?: boolean;
}

interface Declared {
  module: Module;
  trainable: boolean;
}

export abstract class MethodBase<Options = Record<string, unknown>> implements Method {
  /**
   * The spec's name: `ctx.method`, which `defineMethod`'s `create` sets (and checks against the
   * built method). A class built outside a spec (a test's) gets its class name, or declares one.
   */
  readonly name: string;
  /** How many augmented views per sample `trainStep` needs (0: the method transforms inputs itself). */
  abstract readonly views: number;

  readonly #modules = new Map<string, Declared>();
  readonly #state = new Map<string, tf.Variable>();
  #encoder: FeatureModule | undefined;
  #projector: FeatureModule | undefined;

  constructor(
    readonly options: Options,
    /** What the method builds its modules with (backbone from the run's config, heads by name). */
    protected readonly ctx: MethodBuildContext,
  ) {
    this.name = ctx.method ?? this.constructor.name;
  }

  /**
   * Declares a module under a stable checkpoint name; it is trained (unless `trainable: false`),
   * checkpointed and disposed with the method. Returns the module, for a field initialiser.
   */
  protected module<M extends Module>(name: string, module: M, opts: ModuleDeclaration = {}): M {
    if (this.#modules.has(name)) throw new Error(`${this.name}: module "${name}" is declared twice`);
    this.#modules.set(name, { module, trainable: opts.trainable ?? true });
    return module;
  }

  /**
   * The run's backbone (from the config), declared as `name` and used as the representation that
   * evaluators read (the first backbone declared, unless `setEncoder` says otherwise).
   */
  protected addBackbone(name = "backbone"): FeatureModule {
    const backbone = this.module(name, this.ctx.buildBackbone());
    this.#encoder ??= backbone;
    return backbone;
  }

  /**
   * The joint-embedding projector (core's "mlp" head) on top of the encoder, declared as
   * "projector"; `embed(x)` then runs encoder and projector. `inputDim` defaults to the encoder's
   * pooled output; a method whose head reads tokens (iBOT: class and patch tokens) gives their width.
   */
  protected addProjector(spec: MlpSpec, inputDim: number = this.encoder().outputDim): FeatureModule {
    const projector = this.module("projector", buildProjector(this.ctx, inputDim, spec));
    this.#projector = projector;
    return projector;
  }

  /**
   * The predictor (core's "predictor" head: Linear, BN, ReLU, Linear) on the projection, declared
   * as "predictor": BYOL's, SimSiam's, NNCLR's, MoCo v3's. It maps `dim` (default: the projector's
   * output width) back to `dim` through `hiddenDim`. Call after `addProjector`.
   */
  protected addPredictor(
    hiddenDim: number,
    dim: number = this.#projectorFor("addPredictor").outputDim,
  ): FeatureModule {
    return this.module("predictor", buildPredictor(this.ctx, dim, hiddenDim));
  }

  /** projector(encoder(x)): the embedding a joint-embedding loss compares (needs `addProjector`). */
  protected embed(x: tf.Tensor): tf.Tensor {
    return this.#projectorFor("embed()").forward(this.encoder().forward(x));
  }

  /** A non-trainable copy of `online` (MoCo's key encoder, BYOL's target) that only `emaUpdate` moves. */
  protected momentumCopyOf<M extends Module>(name: string, online: M): M {
    return this.module(name, momentumCopy(online), { trainable: false });
  }

  /**
   * A momentum copy of what `embed` runs (encoder and projector), declared as `<prefix>Backbone`
   * and `<prefix>Projector`, in that order: MoCo's key encoder ("momentum"), BYOL's target
   * ("target"). Its `embed` gives keys or targets, its `update(m)` the EMA after a step.
   */
  protected addMomentumEncoder(prefix = "momentum"): MomentumEncoder {
    const online = { backbone: this.encoder(), projector: this.#projectorFor("addMomentumEncoder") };
    return new MomentumEncoder(
      this.momentumCopyOf(`${prefix}Backbone`, online.backbone),
      this.momentumCopyOf(`${prefix}Projector`, online.projector),
      online,
    );
  }

  /** Extra state outside modules (a queue, its pointer, a permutation set), saved in checkpoints. */
  protected stateVariable(name: string, variable: tf.Variable): tf.Variable {
    if (this.#state.has(name)) throw new Error(`${this.name}: state "${name}" is declared twice`);
    this.#state.set(name, variable);
    return variable;
  }

  /**
   * Multi-crop views (core's `MultiCrop`) for this method on the run's input: the sets are checked
   * (local crops no larger than global) and every crop size is run once through the encoder, so a
   * backbone that cannot take a size fails when the method is built (before training, and under
   * `--dry-run`). Call after `addBackbone`; a method cutting its views this way says `views = 0`.
   */
  protected addMultiCrop(sets: readonly CropSet[]): MultiCrop {
    const crops = new MultiCrop(sets, this.ctx.input, this.name);
    const channels = this.ctx.input.kind === "image" ? this.ctx.input.channels : 0;
    checkBackboneSizes(this.encoder(), channels, crops.sizes(), this.name);
    return crops;
  }

  /** Makes `module` the representation evaluators use (default: the first backbone declared). */
  protected setEncoder(module: FeatureModule): void {
    this.#encoder = module;
  }

  abstract trainStep(batch: TrainBatch, ctx: StepContext): StepResult;

  #projectorFor(what: string): FeatureModule {
    if (!this.#projector) throw new Error(`${this.name}: ${what} needs a projector (call addProjector)`);
    return this.#projector;
  }

  encoder(): FeatureModule {
    if (!this.#encoder) throw new Error(`${this.name}: no encoder declared (call addBackbone or setEncoder)`);
    return this.#encoder;
  }

  modules(): Record<string, Module> {
    return Object.fromEntries([...this.#modules].map(([name, d]) => [name, d.module]));
  }

  trainableVariables(): tf.Variable[] {
    return [...this.#modules.values()]
      .filter((d) => d.trainable)
      .flatMap((d) => d.module.trainableVariables());
  }

  state(): Record<string, tf.Variable> {
    return Object.fromEntries(this.#state);
  }

  /** Core's recommended pipeline for the input (methods with views: 0 get none). */
  defaultAugmentation(input: InputSpec): AugmentationConfig[] {
    return this.views > 0 ? defaultPipelineFor(input) : [];
  }

  dispose(): void {
    for (const { module } of this.#modules.values()) module.dispose();
    for (const v of this.#state.values()) v.dispose();
    this.#modules.clear();
    this.#state.clear();
  }
}
