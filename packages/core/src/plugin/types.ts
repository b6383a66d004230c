/**
 * The plugin API's contracts. A plugin contributes named, described, zod-configured pieces:
 * backbones, heads, augmentations, losses, methods, datasets and evaluators. Ours are written
 * with exactly these types, so a third-party plugin is a first-class citizen.
 */
import type { z } from "zod";
import type { FeatureModule, Module } from "../nn/module.js";
import type { Rng } from "../rng.js";
import type { tf } from "../tf.js";

/** Bumped on breaking changes of these contracts; the registry refuses plugins built for another. */
export const API_VERSION = 1;

/** What the model sees: images (NHWC, float in [0,1] after loading) or token sequences. */
export type InputSpec =
  | { kind: "image"; height: number; width: number; channels: number }
  | { kind: "text"; vocabSize: number; seqLen: number };

/** Fields shared by every contribution. `options` holds the defaults (zod `.default()`s). */
export interface ContributionBase<Schema extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  options: Schema;
}

export type Options<C extends ContributionBase> = z.output<C["options"]>;

// ---------------------------------------------------------------- backbones and heads

export interface BackboneSpec<Schema extends z.ZodType = z.ZodType> extends ContributionBase<Schema> {
  /** Builds the encoder. `rng` seeds weight initialisation. */
  build(opts: z.output<Schema>, input: InputSpec, rng: Rng): FeatureModule;
}

export interface HeadSpec<Schema extends z.ZodType = z.ZodType> extends ContributionBase<Schema> {
  build(opts: z.output<Schema>, inputDim: number, rng: Rng): FeatureModule;
}

// ---------------------------------------------------------------- augmentations

/** A seeded, batched transform of images [B,H,W,C] (or token ids [B,T]). Same rng state, same output. */
export interface Augmentation {
  readonly name: string;
  apply(x: tf.Tensor, rng: Rng): tf.Tensor;
}

export interface AugmentationSpec<Schema extends z.ZodType = z.ZodType> extends ContributionBase<Schema> {
  create(opts: z.output<Schema>): Augmentation;
}

/** One step of a pipeline as written in a config file. */
export interface AugmentationConfig {
  name: string;
  options?: Record<string, unknown>;
}

// ---------------------------------------------------------------- losses

export type LossFn = (...inputs: tf.Tensor[]) => tf.Scalar;

export interface LossSpec<Schema extends z.ZodType = z.ZodType> extends ContributionBase<Schema> {
  create(opts: z.output<Schema>): LossFn;
}

// ---------------------------------------------------------------- datasets

export interface Sample {
  /** Image HWC values in [0,1] (Float32Array) or token ids (Int32Array). */
  data: Float32Array | Int32Array;
  /** Class label, for evaluation only (never seen by self-supervised training). */
  label?: number;
}

/** A split of a dataset: random access by index keeps loaders simple and seeded shuffles exact. */
export interface DatasetSplit {
  readonly size: number;
  get(index: number): Promise<Sample>;
}

export interface Dataset {
  readonly name: string;
  readonly input: InputSpec;
  readonly numClasses?: number;
  readonly classNames?: string[];
  readonly train: DatasetSplit;
  readonly test?: DatasetSplit;
  /** Text datasets: decode token ids for display. */
  decode?(ids: ArrayLike<number>): string;
}

export interface DatasetSpec<Schema extends z.ZodType = z.ZodType> extends ContributionBase<Schema> {
  load(opts: z.output<Schema>): Promise<Dataset>;
}

// ---------------------------------------------------------------- methods

/** One training batch, as the trainer hands it to a method. The trainer owns and disposes it. */
export interface TrainBatch {
  /** Un-augmented inputs: images [B,H,W,C] float in [0,1], or token ids [B,T] int32. */
  inputs: tf.Tensor;
  /** `method.views` augmented views of `inputs` made by the augmentation pipeline. */
  views: tf.Tensor[];
  /** Labels when the dataset has them; self-supervised methods must not use them. */
  labels?: tf.Tensor1D;
}

export interface LossOutput {
  loss: tf.Scalar;
  /** Extra scalars worth logging (e.g. positive similarity, std of embeddings). */
  metrics?: Record<string, tf.Scalar>;
}

export interface StepResult {
  loss: number;
  metrics: Record<string, number>;
}

export interface StepContext {
  step: number;
  epoch: number;
  /** Planned number of optimizer steps of the run (for schedules such as BYOL's EMA). */
  totalSteps: number;
  rng: Rng;
  /**
   * Computes gradients of `lossFn` with respect to `vars` (default: the method's trainable
   * variables), applies the run's optimizer (with clipping, accumulation, weight-decay masks) and
   * returns the loss and metrics as numbers. Anything computed outside `lossFn` gets no gradient.
   */
  minimize(lossFn: () => LossOutput, vars?: tf.Variable[]): StepResult;
}

export interface EpochContext {
  epoch: number;
  rng: Rng;
  /** Iterates the training split without augmentation (DeepCluster uses it to re-cluster). */
  iterate(batchSize: number): AsyncIterable<{ inputs: tf.Tensor; indices: number[] }>;
  /**
   * Tells the user something the method decided about this run (DeepCluster: fewer clusters than
   * asked because the training split is smaller); the runner writes it to the run's log as a
   * warning. Absent where nobody listens.
   */
  note?(message: string): void;
}

/**
 * A self-supervised method: owns its trainable modules and any state (momentum encoder, queue,
 * centroids). It never touches labels.
 */
export interface Method {
  readonly name: string;
  /** How many augmented views per sample `trainStep` needs (0: the method transforms inputs itself). */
  readonly views: number;
  /** One optimizer step: compute the loss through `ctx.minimize`, then update any extra state. */
  trainStep(batch: TrainBatch, ctx: StepContext): StepResult;
  /** The representation evaluators use (kNN, linear probe, fine-tuning). */
  encoder(): FeatureModule;
  /** Every module with state to checkpoint (trainable or not), by stable name. */
  modules(): Record<string, Module>;
  /** Trainable variables, in a stable order. */
  trainableVariables(): tf.Variable[];
  /** Extra state outside modules (a queue, its pointer), saved in checkpoints. */
  state?(): Record<string, tf.Variable>;
  /** Augmentation pipeline to use when the config names none. */
  defaultAugmentation?(input: InputSpec): AugmentationConfig[];
  /**
   * Pictures or data worth keeping with the run (reconstructions, codebook usage), written into
   * `dir` (which exists) once training ends; the runner stores each listed file as a run artifact
   * that the dashboard shows on the run page.
   */
  writeArtifacts?(ctx: { dataset: Dataset; dir: string }): Promise<MethodArtifact[]>;
  onEpochStart?(ctx: EpochContext): Promise<void> | void;
  onEpochEnd?(ctx: EpochContext): Promise<void> | void;
  dispose(): void;
}

/** A file a method wrote with `writeArtifacts`. */
export interface MethodArtifact {
  /** File name inside the directory given. */
  name: string;
  mime: "image/png" | "application/json";
  description?: string;
}

export interface MethodBuildContext {
  input: InputSpec;
  rng: Rng;
  /**
   * Builds a backbone by name from the registry (the run's configured one when no name given).
   * `input` overrides the run's input spec, for methods whose backbone sees something else than
   * the whole image: jigsaw's tiles, colorization's lightness channel.
   */
  buildBackbone(name?: string, options?: Record<string, unknown>, input?: InputSpec): FeatureModule;
  buildHead(name: string, options: Record<string, unknown>, inputDim: number): FeatureModule;
  /**
   * The run's backbone by registry name and options (what an un-named `buildBackbone()` builds),
   * for a method that needs a fact of it (beit-tokenizer: the ViT's patch size) without building
   * one. Undefined where a test builds the backbone with a function.
   */
  backboneChoice?: { name: string; options: Record<string, unknown> };
  /** The name of the method spec being built (set by `defineMethod`'s `create`; `MethodBase.name`). */
  method?: string;
}

export type MethodFamily = "pretext" | "contrastive" | "masked" | "other";

export interface MethodSpec<Schema extends z.ZodType = z.ZodType> extends ContributionBase<Schema> {
  family: MethodFamily;
  /** Paper the method comes from, for the catalogue. */
  paper?: { title: string; url: string };
  /** Inputs the method supports. */
  inputs: Array<InputSpec["kind"]>;
  /** Backbone used when the config names none. */
  defaultBackbone?: (input: InputSpec) => { name: string; options?: Record<string, unknown> };
  /**
   * Options for quick runs (conformance kit, package tests, a bench's `--quick`): small widths so
   * a step takes milliseconds. Parsed with `options` like any other.
   */
  tinyOptions?: z.input<Schema>;
  /**
   * Whether the method can be an auxiliary of a composed run (see method/compose.ts): true when
   * all of its `trainStep` work happens inside the `lossFn` it gives `ctx.minimize`; false when it
   * updates state after minimize returns (EMA targets, queues), which composition cannot replay.
   * Unset: composition refuses auxiliaries with non-trainable modules or state, where such
   * post-step updates usually live.
   */
  composable?: boolean;
  /**
   * Another method whose trained checkpoint this one takes as an option (BEiT: option `tokenizer`,
   * a trained `beit-tokenizer`). Benches that run this method with the option unset train that
   * method first (it gets its own row) and hand its checkpoint directory over.
   */
  requires?: { method: string; option: string };
  /**
   * Backbones the method is also made for, beyond its default (DINO: vit-tiny as well as the
   * convnet). The quality bench adds a row `<method>@<backbone>` for each; `--methods
   * name@backbone` asks for one by hand.
   */
  benchBackbones?: string[];
  /**
   * Problems of these options with the run's set-up that building the method cannot see (NNCLR:
   * a support set smaller than the batch), each a sentence naming the option and the fix. The
   * runner's preflight (and `--dry-run`) reports them before training; none: an empty list.
   */
  checkRun?(opts: z.output<Schema>, run: { batchSize: number; input: InputSpec }): string[];
  create(opts: z.output<Schema>, ctx: MethodBuildContext): Method;
}

// ---------------------------------------------------------------- evaluators

export interface EvaluationResult {
  protocol: string;
  metric: string;
  value: number;
  std?: number;
  labelsPerClass?: number;
  /** The value of each label draw when the protocol repeats over seeds (`value` is their mean). */
  perSeed?: Array<{ seed: number; value: number }>;
  details?: Record<string, number>;
}

export interface EvaluatorContext {
  encoder: FeatureModule;
  dataset: Dataset;
  rng: Rng;
  batchSize: number;
}

export interface EvaluatorSpec<Schema extends z.ZodType = z.ZodType> extends ContributionBase<Schema> {
  evaluate(opts: z.output<Schema>, ctx: EvaluatorContext): Promise<EvaluationResult[]>;
}

// ---------------------------------------------------------------- plugin

export interface PluginContributions {
  backbones?: BackboneSpec[];
  heads?: HeadSpec[];
  augmentations?: AugmentationSpec[];
  losses?: LossSpec[];
  methods?: MethodSpec[];
  datasets?: DatasetSpec[];
  evaluators?: EvaluatorSpec[];
}

export interface Plugin extends PluginContributions {
  /** npm package name (or any unique id) of the plugin. */
  name: string;
  version?: string;
  apiVersion: number;
}

export type ContributionKind =
  | "backbone"
  | "head"
  | "augmentation"
  | "loss"
  | "method"
  | "dataset"
  | "evaluator";

export interface ContributionByKind {
  backbone: BackboneSpec;
  head: HeadSpec;
  augmentation: AugmentationSpec;
  loss: LossSpec;
  method: MethodSpec;
  dataset: DatasetSpec;
  evaluator: EvaluatorSpec;
}
