/**
 * Executing one run: the whole data flow of DESIGN.md for a run row that already exists in the
 * store (created by `train`, taken from the queue by a worker, or being resumed).
 *
 *   backend -> dataset (+limit) -> method + backbone -> augmentation pipeline -> Trainer.fit with
 *   callbacks (metrics -> MetricWriter, kNN every N epochs, checkpoints, progress) while a
 *   heartbeat keeps the run alive and watches for a cancel -> final evaluations, PCA scatter,
 *   summary row -> finishRun.
 *
 * Stopping: the caller's `signal` (Ctrl-C, SIGTERM, a worker shutting down) ends the run as
 * "interrupted" after the current step, with a checkpoint; a cancel seen by the heartbeat (or the
 * `cancelSignal`, e.g. pg-boss' job signal) ends it as "cancelled". Either way the metrics are
 * flushed first. A thrown error ends it as "failed" (no checkpoint of a failed state).
 */
import { mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  buildPipeline,
  checkStepFitsBackend,
  type Dataset,
  evaluateEvery,
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
import type { RunStore, TerminalStatus } from "@selfsup/store";
import { parseStoredRunConfig, resolveRunConfig } from "../config.js";
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
import { resumableCheckpoint } from "./resume.js";

export { augmentationSteps, buildMethod } from "./build.js";
export { resumableCheckpoint } from "./resume.js";

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

export async function executeRun(opts: ExecuteRunOptions): Promise<ExecuteRunResult> {
  const { store, registry, runId } = opts;
  const emit: ProgressSink = (e) => {
    try {
      opts.onProgress?.(e);
    } catch {
      // a broken reporter must not break training
    }
  };
  const run = await store.getRun(runId);
  if (!run) throw new RunStateError(`no run with id ${runId}`);
  if (run.status === "cancelled") throw new RunStateError(`run ${runId} was cancelled`);
  if (run.status === "finished") throw new RunStateError(`run ${runId} already finished`);

  const started = Date.now();
  const runDir = runDirFor(runId);
  await mkdir(path.join(runDir, "artifacts"), { recursive: true });
  const host = opts.host ?? os.hostname();

  // Stop requests: interrupt (signal) or cancel (heartbeat / cancelSignal).
  const stop = new AbortController();
  let stopReason: "interrupted" | "cancelled" | undefined;
  const requestStop = (reason: "interrupted" | "cancelled") => {
    if (!stopReason) stopReason = reason;
    stop.abort(reason);
  };
  const onInterrupt = () => requestStop("interrupted");
  const onCancel = () => requestStop("cancelled");
  if (opts.signal?.aborted) onInterrupt();
  opts.signal?.addEventListener("abort", onInterrupt, { once: true });
  if (opts.cancelSignal?.aborted) onCancel();
  opts.cancelSignal?.addEventListener("abort", onCancel, { once: true });

  let writer: ReturnType<RunStore["metricWriter"]> | undefined;
  let heartbeat: Heartbeat | undefined;
  let step = 0;
  /** Set while Trainer.fit runs: a failure then happened in step `trainer.step + 1`. */
  let fitting: Trainer | undefined;
  let checkpointsCb: ReturnType<typeof storeCheckpoints> | undefined;
  let resumedAt = 0;
  const retry = <T>(what: string, fn: () => Promise<T>) =>
    retryWhileUnreachable(what, fn, {
      onRetry: (w, attempt, waitMs, error) => {
        if (attempt === 1 || attempt % 5 === 0)
          emit({
            type: "log",
            runId,
            level: "warn",
            message: `database unreachable while ${w} (${errorText(error)}); retrying in ${waitMs} ms (attempt ${attempt})`,
          });
      },
    });
  let method: Method | undefined;
  let data: DatasetWatch | undefined;
  const summary: Record<string, number> = {};
  try {
    let cfg = parseStoredRunConfig(run.config, runId);
    // On wasm: threads where a probe measured them faster on this machine (once; cached in $SELFSUP_HOME).
    const backend = await initBackend(cfg.backend, { probeWasmThreads: true });
    await store.markStarted(runId, { host, backend: backend.backend });

    // Heartbeat: keeps the run from being marked stale, and learns of a cancel.
    heartbeat = startHeartbeat(store, runId, opts.heartbeatMs ?? defaultHeartbeatMs(), () =>
      requestStop("cancelled"),
    );

    const dataset = opts.dataset ?? (await loadDataset(registry, cfg.dataset));
    const watch = watchDataset(dataset, !opts.dataset, (message) =>
      emit({ type: "log", runId, level: "warn", message }),
    );
    data = watch;
    cfg = resolveRunConfig(cfg, registry, dataset.input);
    // A queued or resumed run was not checked by `selfsup train`: fail before the first step.
    const evalProblems = evaluatorProblems(registry, cfg, dataset);
    if (evalProblems.length > 0)
      throw new PreflightError(`this run cannot train:\n  ${evalProblems.join("\n  ")}`);
    // wasm's heap is at most 4 GiB and running out aborts mid-run: estimate first (a throwaway copy
    // of the method trains a few tiny steps) and refuse a batch that will not fit, naming one that will.
    const resolved = cfg;
    const memory = await checkStepFitsBackend({
      build: () => buildMethod(registry, resolved, dataset.input),
      input: dataset.input,
      batchSize: cfg.training.batchSize,
      what: `${cfg.method.name} with ${cfg.backbone?.name ?? "its backbone"}`,
    });
    method = buildMethod(registry, cfg, dataset.input);
    // The batch fits only with activation recomputation (backbone option recompute: "auto").
    if (memory?.recompute && useActivationRecompute(method) > 0)
      emit({
        type: "log",
        runId,
        level: "info",
        message:
          `activation recomputation on: a plain step at batch ${memory.batchSize} would not fit the wasm heap; ` +
          `with it, est. ${(memory.bytes / 2 ** 30).toFixed(1)} GiB of ${(memory.capacityBytes / 2 ** 30).toFixed(1)} GiB`,
      });
    const pipeline = buildPipeline(registry, augmentationSteps(cfg, method, dataset.input));

    // Resume: continue from the newest recorded checkpoint; drop metric points after it.
    let resumeFrom: string | undefined;
    let startStep = 0;
    let initialBest: number | undefined;
    if (opts.resume) {
      const ckpt = await resumableCheckpoint(store, runId, {
        repair: true,
        onSkip: (k) =>
          emit({
            type: "log",
            runId,
            level: "warn",
            message: `checkpoint at step ${k.step} skipped: ${k.reason}${k.movedTo ? ` (moved to ${k.movedTo})` : ""}`,
          }),
      });
      if (ckpt)
        emit({
          type: "log",
          runId,
          level: "info",
          message: `resuming from the checkpoint at step ${ckpt.step}`,
        });
      startStep = ckpt?.step ?? 0;
      resumedAt = startStep;
      await store.deleteMetricsAfter(runId, startStep);
      resumeFrom = ckpt?.path;
      const best = await store.latestCheckpoint(runId, "best");
      if (best && best.step <= startStep)
        initialBest = await readManifest(best.path).then(
          (m) => m.metrics?.knn_top1,
          () => undefined,
        );
    }

    writer = store.metricWriter(runId, { flushEvery: 200, flushIntervalMs: 1000 });
    const metricWriter = writer;

    // Artifact: what the augmentations do (fresh runs of image datasets only).
    const warn = (message: string) => emit({ type: "log", runId, level: "warn", message });
    if (!resumeFrom && dataset.input.kind === "image") {
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
        warn,
      );
    }

    const knn = cfg.eval.knn && cfg.eval.everyEpochs > 0 ? knnEvaluator(registry) : undefined;
    let epochEvals: Record<string, number> = {};
    const best = knn ? { metric: "knn_top1", mode: "max" as const } : undefined;
    const checkpoints = storeCheckpoints({
      retry,
      store,
      runId,
      runDir,
      writer: metricWriter,
      everySteps: cfg.checkpoint.everySteps,
      keepLast: cfg.checkpoint.keepLast,
      ...(best ? { best } : {}),
      ...(initialBest !== undefined ? { initialBest } : {}),
      onProgress: emit,
    });
    checkpointsCb = checkpoints;
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
        ...(opts.callbacks ?? []),
      ],
    });
    emit({
      type: "start",
      runId,
      name: run.name,
      method: cfg.method.name,
      dataset: cfg.dataset.name,
      backend: backend.backend,
      backendReport: formatBackendReport(backend),
      runDir,
      epochs: cfg.training.epochs,
      stepsPerEpoch: trainer.stepsPerEpoch,
      totalSteps: trainer.totalSteps,
      startStep,
      resumed: resumeFrom !== undefined,
    });

    step = startStep;
    fitting = trainer;
    const fit = await trainer.fit({ signal: stop.signal, ...(resumeFrom ? { resumeFrom } : {}) });
    fitting = undefined;
    step = fit.step;
    await retry("flushing metrics", () => metricWriter.flush());

    const last = fit.losses.at(-1);
    if (last !== undefined) summary.loss = last;
    summary.steps = fit.step;
    if (trainer.lastMetrics.images_per_sec !== undefined)
      summary.images_per_sec = trainer.lastMetrics.images_per_sec;

    if (fit.status === "completed") {
      // Final evaluations: stored as evaluations (the leaderboard) and in the summary.
      const plan = finalEvaluators(registry, cfg.eval);
      for (const p of plan.missing)
        emit({ type: "log", runId, level: "warn", message: `no "${p}" evaluator is installed; skipped` });
      if (plan.uses.length > 0 && dataset.numClasses !== undefined) {
        const results = await runEvaluators(plan.uses, {
          encoder: method.encoder(),
          dataset,
          seed: cfg.training.seed,
          batchSize: Math.max(cfg.training.batchSize, 64),
        });
        await retry("storing evaluations", () => storeEvaluations(store, runId, results));
        for (const r of results) {
          summary[evaluationKey(r)] = r.value;
          if (r.std !== undefined) summary[`${evaluationKey(r)}_std`] = r.std;
          emit({
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
          step,
        },
        warn,
      );
      await storeMethodArtifacts({ store, runId, runDir, method, dataset }, warn);
    }
    await retry("storing skipped files", () => watch.store(store, runId, summary));
    const status: TerminalStatus = fit.status === "completed" ? "finished" : (stopReason ?? "interrupted");
    summary.duration_sec = (Date.now() - started) / 1000;
    const finished = await retry("recording the run's end", () =>
      store.finishRun(runId, { status, summary, error: null }),
    );
    emit({
      type: "end",
      runId,
      status: finished.status,
      step,
      summary: finished.summary,
      error: null,
      durationSec: summary.duration_sec,
    });
    return { runId, status: finished.status as TerminalStatus, step, summary: finished.summary, error: null };
  } catch (err) {
    if (err instanceof StepFailure) step = err.step;
    else if (fitting && fitting.step >= step) step = fitting.step + 1;
    let message = errorText(err);
    if (err instanceof DatabaseGoneError) {
      const at = checkpointsCb?.last()?.step ?? resumedAt;
      message +=
        `; the run stopped at step ${step}. ` +
        (at > 0
          ? `Its last recorded checkpoint is step ${at}: when the database is back, \`selfsup resume ${runId}\` continues from there (the steps after it are trained again, so no metric is lost)`
          : `It has no recorded checkpoint yet: when the database is back, start it again`);
    }
    try {
      await writer?.flush();
    } catch {
      // the database may be what failed
    }
    let status: TerminalStatus = "failed";
    try {
      const finished = await store.finishRun(runId, {
        status: "failed",
        summary: { ...summary, duration_sec: (Date.now() - started) / 1000 },
        error: message,
      });
      status = finished.status as TerminalStatus;
    } catch {
      // leave it to the stale-heartbeat sweep
    }
    emit({
      type: "end",
      runId,
      status,
      step,
      summary,
      error: message,
      durationSec: (Date.now() - started) / 1000,
    });
    return { runId, status, step, summary, error: message };
  } finally {
    heartbeat?.stop();
    opts.signal?.removeEventListener("abort", onInterrupt);
    opts.cancelSignal?.removeEventListener("abort", onCancel);
    try {
      await writer?.close();
    } catch {
      // reported above when it mattered
    }
    method?.dispose();
    await data?.close().catch(() => undefined);
  }
}
