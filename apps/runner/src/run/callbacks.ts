/**
 * The runner's Trainer callbacks: metrics into the store's MetricWriter, checkpoints recorded in
 * the store only after the metrics up to their step are flushed (so a resume from any recorded
 * checkpoint finds a series with no gap), and progress events.
 */
import {
  type BestCheckpointRule,
  checkpointDirFor,
  pruneCheckpoints,
  type StepEnd,
  type TrainerCallback,
  type TrainerView,
} from "@selfsup/core";
import type { MetricWriter, RunStore } from "@selfsup/store";
import type { CheckpointEvent, ProgressSink } from "../progress/events.js";

const KEY_OK = /^[A-Za-z0-9_.:/@-]{1,128}$/;

/** A metric name the store accepts (A-Z a-z 0-9 _ . : / @ -, at most 128 characters). */
export function metricKey(name: string): string {
  if (KEY_OK.test(name)) return name;
  const cleaned = name.replace(/[^A-Za-z0-9_.:/@-]/g, "_").slice(0, 128);
  return cleaned.length > 0 ? cleaned : "metric";
}

/**
 * Lets timers and I/O run once per step. The Trainer's loop only awaits promises that settle as
 * microtasks (synchronous tfjs kernels, in-memory data), so without this a whole epoch could run
 * without the heartbeat firing, a metric flush timer, a pg-boss job heartbeat or a Ctrl-C handler.
 */
export function yieldEveryStep(): TrainerCallback {
  return {
    onStepEnd: () => new Promise<void>((resolve) => setImmediate(resolve)),
  };
}

/** A failure that belongs to a known training step (reported as "failed at step N"). */
export class StepFailure extends Error {
  override name = "StepFailure";
  constructor(
    message: string,
    readonly step: number,
  ) {
    super(message);
  }
}

/**
 * Stops a run whose loss is no longer a number (NaN or infinite: it diverged), before the step's
 * state can be checkpointed. Goes first among the callbacks.
 */
export function stopOnDivergence(lr: number): TrainerCallback {
  return {
    onStepEnd(info) {
      if (!Number.isFinite(info.loss))
        throw new StepFailure(
          `the loss is ${info.loss} at step ${info.step}: training diverged; lower training.optimizer.lr (now ${lr}) or set training.clipGradNorm`,
          info.step,
        );
    },
  };
}

/** Every finite metric into the writer (non-finite values, e.g. a skipped grad norm, are dropped). */
export function storeMetrics(writer: MetricWriter): TrainerCallback {
  return {
    onMetrics(step, metrics) {
      for (const [k, v] of Object.entries(metrics)) {
        if (typeof v === "number" && Number.isFinite(v)) writer.write(metricKey(k), step, v);
      }
    },
  };
}

export interface StoreCheckpointOptions {
  store: RunStore;
  runId: string;
  runDir: string;
  writer: MetricWriter;
  everySteps: number;
  keepLast: number;
  best?: BestCheckpointRule;
  /** Best value so far of `best.metric` (a resumed run's best checkpoint). */
  initialBest?: number;
  onProgress?: ProgressSink;
  /** Wraps each database write (default: called once); the runner retries an unreachable database. */
  retry?: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
}

/**
 * Checkpoints at epoch ends, every N steps, on interrupt and at the end. Order matters for
 * crash safety: write the checkpoint (atomic directory), flush metrics, then record it in the
 * store. A crash between the steps leaves an unrecorded checkpoint that resume ignores.
 */
export function storeCheckpoints(
  opts: StoreCheckpointOptions,
): TrainerCallback & { last(): { step: number; path: string } | undefined } {
  let savedStep = -1;
  let last: { step: number; path: string } | undefined;
  let bestValue: number | undefined = opts.initialBest;
  const retry = opts.retry ?? (<T>(_what: string, fn: () => Promise<T>) => fn());
  const save = async (t: TrainerView, reason: CheckpointEvent["reason"]) => {
    if (t.step === savedStep || t.step === 0) return;
    const dir = checkpointDirFor(opts.runDir, t.step);
    const manifest = await t.saveCheckpoint(dir);
    savedStep = t.step;
    await retry("flushing metrics", () => opts.writer.flush());
    // The weights' sha256 identifies the checkpoint's content (manifest.json records every file's).
    const checksum = manifest.files["weights.bin"]?.sha256 ?? null;
    await retry("recording a checkpoint", () =>
      opts.store.addCheckpoint({ runId: opts.runId, path: dir, step: t.step, kind: "latest", checksum }),
    );
    if (opts.best) {
      const v = manifest.metrics?.[opts.best.metric] ?? t.lastMetrics[opts.best.metric];
      if (v !== undefined && Number.isFinite(v)) {
        const better =
          bestValue === undefined || (opts.best.mode === "max" ? v >= bestValue : v <= bestValue);
        if (better) {
          bestValue = v;
          await retry("recording a checkpoint", () =>
            opts.store.addCheckpoint({ runId: opts.runId, path: dir, step: t.step, kind: "best", checksum }),
          );
        }
      }
    }
    last = { step: t.step, path: dir };
    const pruned = await pruneCheckpoints(opts.runDir, {
      keepLast: opts.keepLast,
      ...(opts.best ? { best: opts.best } : {}),
    });
    // Keep the checkpoints table true to disk.
    if (pruned.length > 0)
      await retry("forgetting pruned checkpoints", () => opts.store.deleteCheckpoints(opts.runId, pruned));
    opts.onProgress?.({ type: "checkpoint", runId: opts.runId, step: t.step, path: dir, reason });
  };
  return {
    last: () => last,
    async onStepEnd(info: StepEnd, t) {
      if (opts.everySteps > 0 && info.step % opts.everySteps === 0) await save(t, "interval");
    },
    async onEpochEnd(_epoch, t) {
      await save(t, "epoch");
    },
    async onTrainEnd(info, t) {
      if (info.status === "interrupted") await save(t, "interrupt");
      if (info.status === "completed") await save(t, "end");
    },
  };
}

export interface ProgressCallbackOptions {
  runId: string;
  epochs: number;
  batchSize: number;
  onProgress: ProgressSink;
  /** Extra evaluation values of the epoch just finished (read at epoch end). */
  epochEvals?: () => Record<string, number>;
}

/** Step and epoch events with ETA from the speed of this process's steps. */
export function progressEvents(opts: ProgressCallbackOptions): TrainerCallback {
  let started = 0;
  let firstStep = 0;
  let epochLossSum = 0;
  let epochLossCount = 0;
  let speed: number | undefined;
  return {
    onTrainStart(t) {
      started = performance.now();
      firstStep = t.step;
    },
    onStepEnd(info, t) {
      epochLossSum += info.loss;
      epochLossCount += 1;
      const elapsed = (performance.now() - started) / 1000;
      const perStep = elapsed / Math.max(1, info.step - firstStep);
      const m = t.lastMetrics;
      // Smoothed for display (per-step speed jumps with GC and evaluation pauses).
      const now = m.images_per_sec ?? (opts.batchSize * t.config.accumulate) / Math.max(perStep, 1e-9);
      speed = speed === undefined ? now : 0.8 * speed + 0.2 * now;
      opts.onProgress({
        type: "step",
        runId: opts.runId,
        step: info.step,
        epoch: info.epoch,
        epochs: opts.epochs,
        epochStep: t.stepInEpoch,
        stepsPerEpoch: t.stepsPerEpoch,
        totalSteps: t.totalSteps,
        loss: info.loss,
        lr: m.lr ?? 0,
        imagesPerSec: speed,
        etaSec: perStep * (t.totalSteps - info.step),
        metrics: info.metrics,
      });
    },
    onEpochEnd(epoch, t) {
      opts.onProgress({
        type: "epoch",
        runId: opts.runId,
        epoch,
        epochs: opts.epochs,
        step: t.step,
        loss: epochLossCount > 0 ? epochLossSum / epochLossCount : Number.NaN,
        evals: opts.epochEvals?.() ?? {},
      });
      epochLossSum = 0;
      epochLossCount = 0;
    },
    onNote(message) {
      opts.onProgress({ type: "log", runId: opts.runId, level: "warn", message });
    },
  };
}
