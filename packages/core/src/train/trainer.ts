/**
 * The Trainer: one loop you can read top to bottom (as nanoGPT's train.py). Everything optional
 * (progress, metric sinks, checkpoints, evaluation) arrives as callbacks; the loop only calls them.
 *
 *   for each epoch:  method.onEpochStart
 *     for each step:   k micro-batches -> views -> method.trainStep (ctx.minimize updates weights)
 *                      -> metrics {loss, lr, grad_norm, images_per_sec, ...} -> callbacks.onStepEnd
 *                      -> stop here when the AbortSignal fired (checkpoint via onTrainEnd)
 *     method.onEpochEnd -> callbacks.onEpochEnd
 *
 * Determinism: every random stream derives from `config.seed` through one Rng: "data" (a fork per
 * epoch shuffles the loader), "augment" (views), "method" (StepContext.rng) and "epoch"
 * (EpochContext.rng). Checkpoints save all four and the position inside the epoch, so a resumed
 * run continues with exactly the losses of an uninterrupted one.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  type CheckpointData,
  type CheckpointManifest,
  type JsonValue,
  loadCheckpoint,
  saveCheckpoint,
} from "../checkpoint/checkpoint.js";
import { methodWeights, restoreMethodWeights } from "../checkpoint/method-weights.js";
import { latestCheckpoint, listCheckpoints } from "../checkpoint/run-dir.js";
import type { Dataset, EpochContext, Method, StepContext, StepResult, TrainBatch } from "../plugin/types.js";
import { Rng, type RngState } from "../rng.js";
import type { tf } from "../tf.js";
import { parseTrainConfig, type TrainConfig, type TrainConfigInput } from "./config.js";
import { batchCount, dataLoader, type LoadedBatch, type LoaderFactory } from "./loader.js";
import { Minimizer, methodParams } from "./minimizer.js";
import { createOptimizer } from "./optimizers/index.js";
import type { Optimizer } from "./optimizers/optimizer.js";
import { constantLr, type LrSchedule, warmupCosine } from "./schedule.js";
import type { FitStatus, StepEnd, TrainEndInfo, TrainerCallback, TrainerView } from "./trainer-view.js";

/** Makes `n` augmented views of a batch; must draw all randomness from `rng`. */
export type ViewMaker = (x: tf.Tensor, n: number, rng: Rng) => tf.Tensor[];

/** The default: every view is the un-augmented input. */
export const identityViews: ViewMaker = (x, n) => Array.from({ length: n }, () => x.clone());

export interface TrainerOptions {
  method: Method;
  dataset: Dataset;
  config?: TrainConfigInput;
  /** Augmentation pipeline (default: identity views). */
  augment?: ViewMaker;
  callbacks?: TrainerCallback[];
  /** Batch loader (default: core's DataLoader). It must honour `skip`. */
  loader?: LoaderFactory;
}

export interface FitOptions {
  /** A checkpoint directory, or a run directory (its latest checkpoint is used). */
  resumeFrom?: string;
  /** On abort the current step finishes, callbacks get onTrainEnd("interrupted"), fit returns. */
  signal?: AbortSignal;
}

export interface FitResult {
  status: FitStatus;
  /** Optimizer steps completed. */
  step: number;
  epoch: number;
  /** Loss of every step this fit ran, in order (index 0 is step `firstStep`). */
  losses: number[];
  firstStep: number;
  /** The last checkpoint this trainer wrote, if any. */
  checkpoint?: string;
}

const STREAMS = ["data", "augment", "method", "epoch"] as const;
type StreamName = (typeof STREAMS)[number];

export class Trainer implements TrainerView {
  readonly method: Method;
  readonly dataset: Dataset;
  readonly config: TrainConfig;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly optimizer: Optimizer;
  readonly schedule: LrSchedule;

  /** Optimizer steps completed. */
  step = 0;
  /** Epoch in progress (0-based). */
  epoch = 0;
  /** Steps completed inside the current epoch. */
  stepInEpoch = 0;
  /** Latest value of every metric emitted (checkpoints record them for keep-best). */
  readonly lastMetrics: Record<string, number> = {};
  lastCheckpoint: string | undefined;

  private readonly augment: ViewMaker;
  private readonly callbacks: TrainerCallback[];
  private readonly loader: LoaderFactory;
  private readonly rng: Record<StreamName, Rng>;
  /** Initial state of this epoch's loader Rng (a fork of "data"); saved to replay the epoch's order. */
  private loaderStart: RngState;

  constructor(opts: TrainerOptions) {
    this.method = opts.method;
    this.dataset = opts.dataset;
    this.config = parseTrainConfig(opts.config ?? {});
    this.augment = opts.augment ?? identityViews;
    this.callbacks = opts.callbacks ?? [];
    this.loader = opts.loader ?? dataLoader;

    const c = this.config;
    const batches = batchCount(this.dataset.train.size, c.batchSize, true);
    this.stepsPerEpoch = Math.floor(batches / c.accumulate);
    if (this.stepsPerEpoch < 1) {
      throw new Error(
        `dataset "${this.dataset.name}" has ${this.dataset.train.size} training samples: too few for one step of batchSize ${c.batchSize} x accumulate ${c.accumulate}`,
      );
    }
    this.totalSteps = Math.min(c.maxSteps ?? Number.POSITIVE_INFINITY, c.epochs * this.stepsPerEpoch);
    const warmup = c.schedule.warmupSteps ?? Math.round(c.schedule.warmupEpochs * this.stepsPerEpoch);
    this.schedule =
      c.schedule.name === "cosine"
        ? warmupCosine({
            baseLr: c.optimizer.lr,
            totalSteps: this.totalSteps,
            warmupSteps: warmup,
            minLr: c.schedule.minLr,
          })
        : constantLr(c.optimizer.lr, warmup);
    this.optimizer = createOptimizer(c.optimizer);

    const root = new Rng(c.seed);
    this.rng = { data: root.fork(), augment: root.fork(), method: root.fork(), epoch: root.fork() };
    this.loaderStart = this.rng.data.getState();
  }

  /**
   * Frees what the trainer allocated beyond the method: the optimizer's slot variables (Adam's
   * moments, momentum buffers). Call it once no further `fit` (resume) will follow; the method and
   * its weights stay the caller's.
   */
  dispose(): void {
    this.optimizer.dispose();
  }

  /** Runs (or resumes) training until `totalSteps`, or until `signal` aborts. */
  async fit(opts: FitOptions = {}): Promise<FitResult> {
    const { method, config } = this;
    if (opts.resumeFrom) await this.restore(opts.resumeFrom);
    const minimizer = new Minimizer({
      optimizer: this.optimizer,
      params: methodParams(method),
      defaultVars: () => method.trainableVariables(),
      schedule: this.schedule,
      clipGradNorm: config.clipGradNorm,
      accumulate: config.accumulate,
    });
    const ctx: StepContext = {
      step: this.step,
      epoch: this.epoch,
      totalSteps: this.totalSteps,
      rng: this.rng.method,
      minimize: (lossFn, vars) => minimizer.minimize(lossFn, vars),
    };
    const result: FitResult = {
      status: "completed",
      step: this.step,
      epoch: this.epoch,
      losses: [],
      firstStep: this.step,
    };
    const end = async (info: TrainEndInfo) => {
      for (const cb of this.callbacks) await cb.onTrainEnd?.(info, this);
    };

    try {
      for (const cb of this.callbacks) await cb.onTrainStart?.(this);
      while (this.step < this.totalSteps && result.status === "completed") {
        if (this.stepInEpoch === 0) {
          // A fresh epoch: fork this epoch's loader stream (saved, so a resume replays the order).
          this.loaderStart = this.rng.data.fork().getState();
          await method.onEpochStart?.(this.epochContext());
        }
        const batches = this.batches(this.stepInEpoch * config.accumulate);
        try {
          while (this.stepInEpoch < this.stepsPerEpoch && this.step < this.totalSteps) {
            const started = performance.now();
            ctx.step = minimizer.step = this.step;
            ctx.epoch = minimizer.epoch = this.epoch;
            const updatesBefore = this.optimizer.step;
            let loss = 0;
            const metrics: Record<string, number> = {};
            for (let micro = 0; micro < config.accumulate; micro++) {
              minimizer.microBatch = micro;
              const batch = await this.nextBatch(batches);
              let r: StepResult;
              try {
                r = this.method.trainStep(batch, ctx);
              } finally {
                disposeBatch(batch);
              }
              loss += r.loss / config.accumulate;
              for (const [k, v] of Object.entries(r.metrics))
                metrics[k] = (metrics[k] ?? 0) + v / config.accumulate;
            }
            if (this.optimizer.step === updatesBefore) {
              throw new Error(
                `method "${method.name}": trainStep returned without calling ctx.minimize(), so no weights were updated`,
              );
            }
            this.step += 1;
            this.stepInEpoch += 1;
            result.losses.push(loss);
            const seconds = (performance.now() - started) / 1000;
            const update = minimizer.lastUpdate;
            await this.emit(this.step, {
              loss,
              lr: update?.lr ?? minimizer.lr(),
              grad_norm: update?.gradNorm ?? Number.NaN,
              images_per_sec: (config.batchSize * config.accumulate) / Math.max(seconds, 1e-9),
              ...metrics,
            });
            const info: StepEnd = { step: this.step, epoch: this.epoch, loss, metrics };
            for (const cb of this.callbacks) await cb.onStepEnd?.(info, this);
            if (opts.signal?.aborted) {
              result.status = "interrupted";
              break;
            }
          }
        } finally {
          await batches.return?.(undefined);
        }
        if (result.status === "interrupted" || this.stepInEpoch < this.stepsPerEpoch) break;
        await method.onEpochEnd?.(this.epochContext());
        const finished = this.epoch;
        this.epoch += 1;
        this.stepInEpoch = 0;
        for (const cb of this.callbacks) await cb.onEpochEnd?.(finished, this);
      }
    } catch (error) {
      // No checkpoint of a failed state: the last good one stays the latest.
      await end({ status: "failed", step: this.step, epoch: this.epoch, error });
      throw error;
    } finally {
      minimizer.dispose();
    }
    await end({ status: result.status, step: this.step, epoch: this.epoch });
    result.step = this.step;
    result.epoch = this.epoch;
    result.checkpoint = this.lastCheckpoint;
    return result;
  }

  /** Sends metrics to every callback's onMetrics (evaluation callbacks use it too). */
  async emit(step: number, metrics: Record<string, number>): Promise<void> {
    Object.assign(this.lastMetrics, metrics);
    for (const cb of this.callbacks) await cb.onMetrics?.(step, metrics, this);
  }

  // ------------------------------------------------------------------ data

  /** This epoch's batch iterator, starting after `skip` micro-batches (a resume replays the order). */
  private batches(skip: number): AsyncIterator<LoadedBatch> {
    return this.loader(this.dataset.train, {
      batchSize: this.config.batchSize,
      shuffle: this.config.shuffle,
      rng: new Rng(this.loaderStart),
      dropLast: true,
      input: this.dataset.input,
      skip,
    })[Symbol.asyncIterator]();
  }

  private async nextBatch(batches: AsyncIterator<LoadedBatch>): Promise<TrainBatch> {
    const r = await batches.next();
    if (r.done) throw new Error(`the loader ended early in epoch ${this.epoch} (after step ${this.step})`);
    const { inputs, labels } = r.value;
    const views = this.method.views > 0 ? this.augment(inputs, this.method.views, this.rng.augment) : [];
    return labels ? { inputs, views, labels } : { inputs, views };
  }

  private epochContext(): EpochContext {
    const { dataset } = this;
    const loader = this.loader;
    return {
      epoch: this.epoch,
      rng: this.rng.epoch,
      async *iterate(batchSize: number) {
        const it = loader(dataset.train, {
          batchSize,
          shuffle: false,
          rng: new Rng(0),
          dropLast: false,
          input: dataset.input,
        });
        for await (const b of it) {
          b.labels?.dispose();
          try {
            yield { inputs: b.inputs, indices: b.indices };
          } finally {
            b.inputs.dispose();
          }
        }
      },
      note: (message: string) => {
        for (const cb of this.callbacks) cb.onNote?.(message, this);
      },
    };
  }

  // ------------------------------------------------------------------ checkpoints

  /** Everything a resume needs, referencing live tensors (save it before the next step). */
  checkpointData(): CheckpointData {
    const weights = methodWeights(this.method);
    const opt = this.optimizer.getState();
    const rng = Object.fromEntries(STREAMS.map((s) => [s, this.rng[s].getState()])) as Record<
      string,
      RngState
    >;
    rng.loader = this.loaderStart;
    return {
      weights,
      optimizer: { name: this.optimizer.name, step: opt.step, paramSteps: opt.paramSteps, slots: opt.slots },
      meta: {
        step: this.step,
        epoch: this.epoch,
        rng,
        config: this.config as unknown as JsonValue,
        metrics: { ...this.lastMetrics },
        extra: { stepInEpoch: this.stepInEpoch, stepsPerEpoch: this.stepsPerEpoch, method: this.method.name },
      },
    };
  }

  async saveCheckpoint(dir: string): Promise<CheckpointManifest> {
    const manifest = await saveCheckpoint(dir, this.checkpointData());
    this.lastCheckpoint = dir;
    return manifest;
  }

  /** Restores weights, method state, optimizer slots, step, epoch, position and RNG streams. */
  async restore(from: string): Promise<void> {
    const dir = (await listCheckpoints(from)).length > 0 ? await latestCheckpoint(from) : from;
    if (!dir || !existsSync(join(dir, "manifest.json"))) {
      throw new Error(
        `cannot resume from ${from}: it is neither a checkpoint directory (with manifest.json) nor a run directory with complete checkpoints in checkpoints/`,
      );
    }
    const ckpt = await loadCheckpoint(dir);
    try {
      const { meta } = ckpt;
      const saved = meta.config as Partial<TrainConfig> | undefined;
      for (const key of ["batchSize", "accumulate", "seed", "shuffle"] as const) {
        if (saved && saved[key] !== undefined && saved[key] !== this.config[key]) {
          throw new Error(
            `cannot resume from ${dir}: it was written with ${key}=${JSON.stringify(saved[key])} but this run has ${key}=${JSON.stringify(this.config[key])}; the data order would differ`,
          );
        }
      }
      restoreMethodWeights(this.method, ckpt.weights, dir);
      if (ckpt.optimizer) {
        if (ckpt.optimizer.name !== this.optimizer.name) {
          throw new Error(
            `${dir}/optimizer.json holds ${ckpt.optimizer.name} state but this run uses ${this.optimizer.name}`,
          );
        }
        this.optimizer.setState(ckpt.optimizer);
      }
      this.step = meta.step;
      this.epoch = meta.epoch;
      this.stepInEpoch = Number(meta.extra?.stepInEpoch ?? 0);
      for (const s of STREAMS) {
        const st = meta.rng?.[s];
        if (!st) throw new Error(`${dir}/state.json has no state for the "${s}" random stream`);
        this.rng[s].setState(st);
      }
      if (meta.rng?.loader) this.loaderStart = meta.rng.loader;
      Object.assign(this.lastMetrics, meta.metrics ?? {});
      this.lastCheckpoint = dir;
    } finally {
      ckpt.dispose();
    }
  }
}

/** The trainer owns every batch (see TrainBatch): disposed as soon as trainStep returns. */
function disposeBatch(batch: TrainBatch): void {
  batch.inputs.dispose();
  for (const v of batch.views) v.dispose();
  batch.labels?.dispose();
}
