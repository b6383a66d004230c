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
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  type AugmentationConfig,
  buildPipeline,
  checkStepFitsBackend,
  type Dataset,
  defaultPipelineFor,
  embeddingProjection,
  evaluateEvery,
  formatBackendReport,
  type InputSpec,
  initBackend,
  type Method,
  makeViews,
  methodBuildContext,
  type Registry,
  Rng,
  readManifest,
  Trainer,
  writeAugmentPreview,
} from "@selfsup/core";
import type { Checkpoint, RunStore, TerminalStatus } from "@selfsup/store";
import { parseStoredRunConfig, type ResolvedRunConfig, resolveRunConfig } from "../config.js";
import { runDirFor } from "../home.js";
import type { ProgressSink } from "../progress/events.js";
import { heartbeatMs as defaultHeartbeatMs } from "../store.js";
import { progressEvents, storeCheckpoints, storeMetrics, yieldEveryStep } from "./callbacks.js";
import { loadDataset } from "./dataset.js";
import { evaluationKey, finalEvaluators, knnEvaluator, runEvaluators } from "./evaluate.js";

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

/** Builds the method with the run's backbone, seeded from the run's seed. */
export function buildMethod(registry: Registry, cfg: ResolvedRunConfig, input: InputSpec): Method {
  const backbone = cfg.backbone;
  if (!backbone) throw new Error("internal: backbone not resolved before building the method");
  const ctx = methodBuildContext({
    registry,
    input,
    rng: new Rng((cfg.training.seed ^ 0x5eed) >>> 0),
    backbone,
  });
  return registry.create("method", cfg.method.name, cfg.method.options, ctx);
}

/** The augmentation steps of a run: its config's, else the method's default, else core's default. */
export function augmentationSteps(
  cfg: ResolvedRunConfig,
  method: Method,
  input: InputSpec,
): AugmentationConfig[] {
  if (cfg.augmentations) return cfg.augmentations;
  return method.defaultAugmentation?.(input) ?? defaultPipelineFor(input);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** The newest checkpoint recorded in the store whose directory still exists. */
export async function resumableCheckpoint(store: RunStore, runId: string): Promise<Checkpoint | undefined> {
  const all = await store.listCheckpoints(runId);
  const sorted = [...all].sort((a, b) => b.step - a.step || b.id - a.id);
  for (const c of sorted) if (await exists(path.join(c.path, "manifest.json"))) return c;
  return undefined;
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
  let heartbeat: NodeJS.Timeout | undefined;
  let step = 0;
  let method: Method | undefined;
  const summary: Record<string, number> = {};
  try {
    let cfg = parseStoredRunConfig(run.config, runId);
    const backend = await initBackend(cfg.backend);
    await store.markStarted(runId, { host, backend: backend.backend });

    // Heartbeat: keeps the run from being marked stale, and learns of a cancel.
    const beatEvery = opts.heartbeatMs ?? defaultHeartbeatMs();
    heartbeat = setInterval(() => {
      store
        .heartbeat(runId)
        .then((status) => {
          if (status === "cancelled") requestStop("cancelled");
        })
        .catch(() => {
          // transient database trouble: the next beat retries; stale detection is the backstop
        });
    }, beatEvery);
    heartbeat.unref();

    const dataset = opts.dataset ?? (await loadDataset(registry, cfg.dataset));
    cfg = resolveRunConfig(cfg, registry, dataset.input);
    // wasm's heap is at most 4 GiB and running out aborts mid-run: estimate first (a throwaway copy
    // of the method trains a few tiny steps) and refuse a batch that will not fit, naming one that will.
    const resolved = cfg;
    await checkStepFitsBackend({
      build: () => buildMethod(registry, resolved, dataset.input),
      input: dataset.input,
      batchSize: cfg.training.batchSize,
      what: `${cfg.method.name} with ${cfg.backbone?.name ?? "its backbone"}`,
    });
    method = buildMethod(registry, cfg, dataset.input);
    const pipeline = buildPipeline(registry, augmentationSteps(cfg, method, dataset.input));

    // Resume: continue from the newest recorded checkpoint; drop metric points after it.
    let resumeFrom: string | undefined;
    let startStep = 0;
    let initialBest: number | undefined;
    if (opts.resume) {
      const ckpt = await resumableCheckpoint(store, runId);
      startStep = ckpt?.step ?? 0;
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
    if (!resumeFrom && dataset.input.kind === "image") {
      try {
        const out = path.join(runDir, "artifacts", "augment-preview.png");
        await writeAugmentPreview({
          dataset,
          pipeline,
          out,
          count: 8,
          views: Math.max(2, method.views || 2),
          seed: cfg.training.seed,
        });
        await store.addArtifact({
          runId,
          kind: "augment-preview",
          name: "views.png",
          mime: "image/png",
          bytes: new Uint8Array(await readFile(out)),
        });
      } catch (err) {
        emit({
          type: "log",
          runId,
          level: "warn",
          message: `augmentation preview skipped: ${errorText(err)}`,
        });
      }
    }

    const knn = cfg.eval.knn && cfg.eval.everyEpochs > 0 ? knnEvaluator(registry) : undefined;
    let epochEvals: Record<string, number> = {};
    const best = knn ? { metric: "knn_top1", mode: "max" as const } : undefined;
    const checkpoints = storeCheckpoints({
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
    const trainer = new Trainer({
      method,
      dataset,
      config: cfg.training,
      augment: (x, n, rng) => makeViews(pipeline, x, n, rng),
      callbacks: [
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

    const fit = await trainer.fit({ signal: stop.signal, ...(resumeFrom ? { resumeFrom } : {}) });
    step = fit.step;
    await metricWriter.flush();

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
        for (const r of results) {
          // One row per seed when the evaluator reports them (the leaderboard averages over seeds).
          const rows = r.perSeed ?? [{ seed: 0, value: r.value }];
          for (const row of rows) {
            await store.addEvaluation({
              runId,
              protocol: r.protocol,
              labelsPerClass: r.labelsPerClass ?? null,
              seed: row.seed,
              metric: r.metric,
              value: row.value,
            });
          }
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
      // Artifact: PCA scatter of the test embeddings, for the dashboard.
      try {
        const split = dataset.test ?? dataset.train;
        const p = await embeddingProjection(method.encoder(), split, {
          input: dataset.input,
          batchSize: Math.max(cfg.training.batchSize, 64),
          limit: 1000,
          seed: cfg.training.seed,
        });
        const data = {
          split: dataset.test ? "test" : "train",
          points: p.points,
          labels: p.labels,
          explainedVariance: p.explainedVariance,
        };
        await writeFile(path.join(runDir, "artifacts", "embeddings-2d.json"), JSON.stringify(data));
        await store.addArtifact({
          runId,
          kind: "pca",
          name: "embeddings-2d.json",
          mime: "application/json",
          step,
          data,
        });
      } catch (err) {
        emit({ type: "log", runId, level: "warn", message: `PCA scatter skipped: ${errorText(err)}` });
      }
    }
    const status: TerminalStatus = fit.status === "completed" ? "finished" : (stopReason ?? "interrupted");
    summary.duration_sec = (Date.now() - started) / 1000;
    const finished = await store.finishRun(runId, { status, summary, error: null });
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
    const message = errorText(err);
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
    if (heartbeat) clearInterval(heartbeat);
    opts.signal?.removeEventListener("abort", onInterrupt);
    opts.cancelSignal?.removeEventListener("abort", onCancel);
    try {
      await writer?.close();
    } catch {
      // reported above when it mattered
    }
    method?.dispose();
  }
}
