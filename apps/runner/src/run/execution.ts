import os from "node:os";
import {
  type BackendReport,
  buildPipeline,
  checkStepFitsBackend,
  type Dataset,
  evaluateEvery,
  type FitResult,
  formatBackendReport,
  initBackend,
  type Method,
  makeViews,
  type Registry,
  readManifest,
  Trainer,
  type TrainerCallback,
  useActivationRecompute,
} from "@selfsup/core";
import type { Run, RunStore, TerminalStatus } from "@selfsup/store";
import { parseStoredRunConfig, type ResolvedRunConfig, resolveRunConfig } from "../config.js";
import { runDirFor } from "../home.js";
import type { ProgressSink } from "../progress/events.js";
import { heartbeatMs as defaultHeartbeatMs } from "../store.js";
import { storeAugmentPreview, storeEmbeddingScatter, storeMethodArtifacts } from "./artifacts.js";
import { augmentationSteps, buildMethod } from "./build.js";
import {
  progressEvents,
  StepFailure,
  stopOnDivergence,
  storeCheckpoints,
  storeMetrics,
  yieldEveryStep,
} from "./callbacks.js";
import { type DatasetWatch, loadDataset, watchDataset } from "./dataset.js";
import { DatabaseGoneError, retryWhileUnreachable } from "./db-retry.js";
import { evaluationKey, finalEvaluators, knnEvaluator, runEvaluators, storeEvaluations } from "./evaluate.js";
import { type Heartbeat, startHeartbeat } from "./heartbeat.js";
import { evaluatorProblems, PreflightError } from "./preflight.js";
import { resolveRequiredCheckpoints } from "./requires.js";
import { resumableCheckpoint } from "./resume.js";

export interface ExecuteRunOptions {
  store: RunStore;
  registry: Registry;
  runId: string;
  /** Continue from the run's latest recorded checkpoint (metrics after it are deleted first). */
  resume?: boolean;
  /** Interrupt: finish the step, checkpoint, status "interrupted". */
  signal?: AbortSignal;
  /** Cancel from outside (e.g. the queue's job signal): status "cancelled". */
  cancelSignal?: AbortSignal;
  onProgress?: ProgressSink;
  /** Recorded as the run's host (default: hostname). */
  host?: string;
  heartbeatMs?: number;
  /** A dataset already loaded by the caller for this config (skips loading it again). */
  dataset?: Dataset;
  /** More trainer callbacks, after the runner's own (a sweep's per-epoch metric and ASHA). */
  callbacks?: TrainerCallback[];
}

export interface ExecuteRunResult {
  runId: string;
  status: TerminalStatus;
  step: number;
  summary: Record<string, number>;
  error: string | null;
}

/** Raised when a run cannot be executed at all (no such run, wrong state). */
export class RunStateError extends Error {
  override name = "RunStateError";
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Where training resumes: the checkpoint directory, its step, and the best kNN so far. */
interface ResumePoint {
  from?: string;
  step: number;
  initialBest?: number;
}

type Memory = Awaited<ReturnType<typeof checkStepFitsBackend>>;
type AugmentationPipeline = ReturnType<typeof buildPipeline>;

/** One execution of one run: its state across the phases, and the phases. */
export class RunExecution {
  readonly store: RunStore;
  readonly registry: Registry;
  readonly runId: string;
  readonly started = Date.now();
  readonly runDir: string;
  /** Training stops at the next step when this aborts (interrupt or cancel). */
  readonly stop = new AbortController();
  stopReason: "interrupted" | "cancelled" | undefined;
  writer: ReturnType<RunStore["metricWriter"]> | undefined;
  heartbeat: Heartbeat | undefined;
  /** The step reported at the end: the last finished step, or the failing one. */
  step = 0;
  /** Set while Trainer.fit runs: a failure then happened in step `trainer.step + 1`. */
  fitting: Trainer | undefined;
  checkpoints: ReturnType<typeof storeCheckpoints> | undefined;
  resumedAt = 0;
  method: Method | undefined;
  /** The dataset's watch (files skipped while reading, closed at the end). */
  data: DatasetWatch | undefined;
  readonly summary: Record<string, number> = {};
  readonly onInterrupt = () => this.requestStop("interrupted");
  readonly onCancel = () => this.requestStop("cancelled");

  constructor(
    readonly opts: ExecuteRunOptions,
    readonly run: Run,
  ) {
    this.store = opts.store;
    this.registry = opts.registry;
    this.runId = opts.runId;
    this.runDir = runDirFor(opts.runId);
    // Stop requests: interrupt (signal) or cancel (heartbeat / cancelSignal).
    if (opts.signal?.aborted) this.onInterrupt();
    opts.signal?.addEventListener("abort", this.onInterrupt, { once: true });
    if (opts.cancelSignal?.aborted) this.onCancel();
    opts.cancelSignal?.addEventListener("abort", this.onCancel, { once: true });
  }

  requestStop(reason: "interrupted" | "cancelled"): void {
    if (!this.stopReason) this.stopReason = reason;
    this.stop.abort(reason);
  }

  readonly emit: ProgressSink = (e) => {
    try {
      this.opts.onProgress?.(e);
    } catch {
      // a broken reporter must not break training
    }
  };

  readonly warn = (message: string) => this.emit({ type: "log", runId: this.runId, level: "warn", message });

  /** Retries a store write while the database is unreachable, saying so now and then. */
  readonly retry = <T>(what: string, fn: () => Promise<T>) =>
    retryWhileUnreachable(what, fn, {
      onRetry: (w, attempt, waitMs, error) => {
        if (attempt === 1 || attempt % 5 === 0)
          this.warn(
            `database unreachable while ${w} (${errorText(error)}); retrying in ${waitMs} ms (attempt ${attempt})`,
          );
      },
    });

  /** Resolve: the stored config, the backend (the run is marked started), heartbeat, dataset. */
  async resolve(): Promise<{ cfg: ResolvedRunConfig; backend: BackendReport; dataset: Dataset }> {
    const stored = parseStoredRunConfig(this.run.config, this.runId);
    // On wasm: threads where a probe measured them faster on this machine (once; cached in $SELFSUP_HOME).
    const backend = await initBackend(stored.backend, { probeWasmThreads: true });
    await this.store.markStarted(this.runId, {
      host: this.opts.host ?? os.hostname(),
      backend: backend.backend,
    });
    // Heartbeat: keeps the run from being marked stale, and learns of a cancel.
    this.heartbeat = startHeartbeat(
      this.store,
      this.runId,
      this.opts.heartbeatMs ?? defaultHeartbeatMs(),
      () => this.requestStop("cancelled"),
    );
    const dataset = this.opts.dataset ?? (await loadDataset(this.registry, stored.dataset));
    this.data = watchDataset(dataset, !this.opts.dataset, this.warn);
    // A queued run names its required checkpoint (BEiT's tokenizer) as submitted: resolve it here, where it trains.
    const cfg = await resolveRequiredCheckpoints(
      this.registry,
      resolveRunConfig(stored, this.registry, dataset.input),
      {
        warn: this.warn,
        store: this.store,
      },
    );
    return { cfg, backend, dataset };
  }

  /**
   * Pre-flight: a queued or resumed run was not checked by `selfsup train`, so fail before the
   * first step. wasm's heap is at most 4 GiB and running out aborts mid-run: estimate first (a
   * throwaway copy of the method trains a few tiny steps) and refuse a batch that will not fit,
   * naming one that will.
   */
  async preflight(cfg: ResolvedRunConfig, dataset: Dataset): Promise<Memory> {
    const evalProblems = evaluatorProblems(this.registry, cfg, dataset);
    if (evalProblems.length > 0)
      throw new PreflightError(`this run cannot train:\n  ${evalProblems.join("\n  ")}`);
    return checkStepFitsBackend({
      build: () => buildMethod(this.registry, cfg, dataset.input),
      input: dataset.input,
      batchSize: cfg.training.batchSize,
      what: `${cfg.method.name} with ${cfg.backbone?.name ?? "its backbone"}`,
    });
  }

  /** Build: the method (with activation recomputation when only that fits) and its augmentations. */
  build(
    cfg: ResolvedRunConfig,
    dataset: Dataset,
    memory: Memory,
  ): { method: Method; pipeline: AugmentationPipeline } {
    const method = buildMethod(this.registry, cfg, dataset.input);
    this.method = method;
    if (memory?.recompute && useActivationRecompute(method) > 0)
      this.emit({
        type: "log",
        runId: this.runId,
        level: "info",
        message:
          `activation recomputation on: a plain step at batch ${memory.batchSize} would not fit the wasm heap; ` +
          `with it, est. ${(memory.bytes / 2 ** 30).toFixed(1)} GiB of ${(memory.capacityBytes / 2 ** 30).toFixed(1)} GiB`,
      });
    return { method, pipeline: buildPipeline(this.registry, augmentationSteps(cfg, method, dataset.input)) };
  }

  /** Resume: continue from the newest recorded checkpoint; drop metric points after it. */
  async resumePoint(): Promise<ResumePoint> {
    if (!this.opts.resume) return { step: 0 };
    const { store, runId } = this;
    const ckpt = await resumableCheckpoint(store, runId, {
      repair: true,
      onSkip: (k) =>
        this.warn(
          `checkpoint at step ${k.step} skipped: ${k.reason}${k.movedTo ? ` (moved to ${k.movedTo})` : ""}`,
        ),
    });
    if (ckpt)
      this.emit({
        type: "log",
        runId,
        level: "info",
        message: `resuming from the checkpoint at step ${ckpt.step}`,
      });
    const step = ckpt?.step ?? 0;
    this.resumedAt = step;
    await store.deleteMetricsAfter(runId, step);
    const best = await store.latestCheckpoint(runId, "best");
    const initialBest =
      best && best.step <= step
        ? await readManifest(best.path).then(
            (m) => m.metrics?.knn_top1,
            () => undefined,
          )
        : undefined;
    return {
      step,
      ...(ckpt?.path !== undefined ? { from: ckpt.path } : {}),
      ...(initialBest !== undefined ? { initialBest } : {}),
    };
  }

  /** Open the run's metric writer (batched writes to the store). */
  openMetrics(): ReturnType<RunStore["metricWriter"]> {
    this.writer = this.store.metricWriter(this.runId, { flushEvery: 200, flushIntervalMs: 1000 });
    return this.writer;
  }

  /** Artifact: what the augmentations do (fresh runs of image datasets only). */
  async previewAugmentations(
    cfg: ResolvedRunConfig,
    dataset: Dataset,
    method: Method,
    pipeline: AugmentationPipeline,
  ): Promise<void> {
    if (dataset.input.kind !== "image") return;
    const { store, runId, runDir } = this;
    await storeAugmentPreview(
      {
        store,
        runId,
        runDir,
        dataset,
        pipeline,
        views: Math.max(2, method.views || 2),
        seed: cfg.training.seed,
      },
      this.warn,
    );
  }

  /** Train: Trainer.fit with its callbacks (metrics, kNN every N epochs, checkpoints, progress). */
  async train(
    cfg: ResolvedRunConfig,
    backend: BackendReport,
    dataset: Dataset,
    method: Method,
    pipeline: AugmentationPipeline,
    resume: ResumePoint,
  ): Promise<FitResult> {
    const { store, runId, runDir, emit } = this;
    const metricWriter = this.writer ?? this.openMetrics();
    const knn = cfg.eval.knn && cfg.eval.everyEpochs > 0 ? knnEvaluator(this.registry) : undefined;
    let epochEvals: Record<string, number> = {};
    const best = knn ? { metric: "knn_top1", mode: "max" as const } : undefined;
    const checkpoints = storeCheckpoints({
      retry: this.retry,
      store,
      runId,
      runDir,
      writer: metricWriter,
      everySteps: cfg.checkpoint.everySteps,
      keepLast: cfg.checkpoint.keepLast,
      ...(best ? { best } : {}),
      ...(resume.initialBest !== undefined ? { initialBest: resume.initialBest } : {}),
      onProgress: emit,
    });
    this.checkpoints = checkpoints;
    const trainer: Trainer = new Trainer({
      method,
      dataset,
      config: cfg.training,
      augment: (x, n, rng) => makeViews(pipeline, x, n, rng),
      callbacks: [
        stopOnDivergence(cfg.training.optimizer.lr),
        yieldEveryStep(),
        storeMetrics(metricWriter),
        ...(knn && dataset.test
          ? [
              evaluateEvery({
                everyEpochs: cfg.eval.everyEpochs,
                evaluators: [knn],
                dataset,
                batchSize: Math.max(cfg.training.batchSize, 64),
                atEnd: false,
                onResults: (results) => {
                  epochEvals = Object.fromEntries(results.map((r) => [evaluationKey(r), r.value]));
                },
              }),
            ]
          : []),
        checkpoints,
        progressEvents({
          runId,
          epochs: cfg.training.epochs,
          batchSize: cfg.training.batchSize,
          onProgress: emit,
          epochEvals: () => {
            const e = epochEvals;
            epochEvals = {};
            return e;
          },
        }),
        ...(this.opts.callbacks ?? []),
      ],
    });
    emit({
      type: "start",
      runId,
      name: this.run.name,
      method: cfg.method.name,
      dataset: cfg.dataset.name,
      backend: backend.backend,
      backendReport: formatBackendReport(backend),
      runDir,
      epochs: cfg.training.epochs,
      stepsPerEpoch: trainer.stepsPerEpoch,
      totalSteps: trainer.totalSteps,
      startStep: resume.step,
      resumed: resume.from !== undefined,
    });

    this.step = resume.step;
    this.fitting = trainer;
    const fit = await trainer.fit({
      signal: this.stop.signal,
      ...(resume.from ? { resumeFrom: resume.from } : {}),
    });
    this.fitting = undefined;
    this.step = fit.step;
    await this.retry("flushing metrics", () => metricWriter.flush());

    const last = fit.losses.at(-1);
    if (last !== undefined) this.summary.loss = last;
    this.summary.steps = fit.step;
    if (trainer.lastMetrics.images_per_sec !== undefined)
      this.summary.images_per_sec = trainer.lastMetrics.images_per_sec;
    return fit;
  }

  /** Evaluate: final evaluations (stored for the leaderboard and in the summary), scatter, method artifacts. */
  async evaluate(cfg: ResolvedRunConfig, dataset: Dataset, method: Method): Promise<void> {
    const { store, runId, runDir } = this;
    const plan = finalEvaluators(this.registry, cfg.eval);
    for (const p of plan.missing) this.warn(`no "${p}" evaluator is installed; skipped`);
    if (plan.uses.length > 0 && dataset.numClasses !== undefined) {
      const results = await runEvaluators(plan.uses, {
        encoder: method.encoder(),
        dataset,
        seed: cfg.training.seed,
        batchSize: Math.max(cfg.training.batchSize, 64),
      });
      await this.retry("storing evaluations", () => storeEvaluations(store, runId, results));
      for (const r of results) {
        this.summary[evaluationKey(r)] = r.value;
        if (r.std !== undefined) this.summary[`${evaluationKey(r)}_std`] = r.std;
        this.emit({
          type: "eval",
          runId,
          protocol: r.protocol,
          metric: r.metric,
          value: r.value,
          ...(r.std !== undefined ? { std: r.std } : {}),
          labelsPerClass: r.labelsPerClass ?? null,
        });
      }
    }
    await storeEmbeddingScatter(
      {
        store,
        runId,
        runDir,
        method,
        dataset,
        batchSize: Math.max(cfg.training.batchSize, 64),
        seed: cfg.training.seed,
        step: this.step,
      },
      this.warn,
    );
    await storeMethodArtifacts({ store, runId, runDir, method, dataset }, this.warn);
  }

  /** Finish: the run's terminal status and summary recorded, and the end event. */
  async finish(fit: FitResult): Promise<ExecuteRunResult> {
    const { runId, step, summary } = this;
    const watch = this.data;
    if (watch) await this.retry("storing skipped files", () => watch.store(this.store, runId, summary));
    const status: TerminalStatus =
      fit.status === "completed" ? "finished" : (this.stopReason ?? "interrupted");
    summary.duration_sec = (Date.now() - this.started) / 1000;
    const finished = await this.retry("recording the run's end", () =>
      this.store.finishRun(runId, { status, summary, error: null }),
    );
    this.emit({
      type: "end",
      runId,
      status: finished.status,
      step,
      summary: finished.summary,
      error: null,
      durationSec: summary.duration_sec,
    });
    return { runId, status: finished.status as TerminalStatus, step, summary: finished.summary, error: null };
  }

  /** Fail: flush what can be, record the run as failed (best effort) with its step and reason. */
  async fail(err: unknown): Promise<ExecuteRunResult> {
    const { runId, summary } = this;
    if (err instanceof StepFailure) this.step = err.step;
    else if (this.fitting && this.fitting.step >= this.step) this.step = this.fitting.step + 1;
    const step = this.step;
    let message = errorText(err);
    if (err instanceof DatabaseGoneError) {
      const at = this.checkpoints?.last()?.step ?? this.resumedAt;
      message +=
        `; the run stopped at step ${step}. ` +
        (at > 0
          ? `Its last recorded checkpoint is step ${at}: when the database is back, \`selfsup resume ${runId}\` continues from there (the steps after it are trained again, so no metric is lost)`
          : `It has no recorded checkpoint yet: when the database is back, start it again`);
    }
    try {
      await this.writer?.flush();
    } catch {
      // the database may be what failed
    }
    let status: TerminalStatus = "failed";
    try {
      const finished = await this.store.finishRun(runId, {
        status: "failed",
        summary: { ...summary, duration_sec: (Date.now() - this.started) / 1000 },
        error: message,
      });
      status = finished.status as TerminalStatus;
    } catch {
      // leave it to the stale-heartbeat sweep
    }
    this.emit({
      type: "end",
      runId,
      status,
      step,
      summary,
      error: message,
      durationSec: (Date.now() - this.started) / 1000,
    });
    return { runId, status, step, summary, error: message };
  }

  /** Close: heartbeat stopped, listeners removed, metric writer closed, method disposed. */
  async close(): Promise<void> {
    this.heartbeat?.stop();
    this.opts.signal?.removeEventListener("abort", this.onInterrupt);
    this.opts.cancelSignal?.removeEventListener("abort", this.onCancel);
    try {
      await this.writer?.close();
    } catch {
      // reported above when it mattered
    }
    this.method?.dispose();
    await this.data?.close().catch(() => undefined);
  }
}
