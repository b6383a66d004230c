/**
 * Trainer callbacks: every optional feature of a run (progress line, metric sinks, checkpoints,
 * periodic evaluation) is one of these, so the training loop itself has no branches for them.
 * Callbacks run in the order given; put evaluation before checkpointing so that a checkpoint
 * records the evaluation it follows (keep-best reads it).
 */
import { type BestCheckpointRule, checkpointDirFor, pruneCheckpoints } from "../checkpoint/run-dir.js";
import type { Dataset, EvaluationResult, EvaluatorSpec } from "../plugin/types.js";
import { Rng } from "../rng.js";
import type { TrainerCallback, TrainerView } from "./trainer-view.js";

/** Forwards every metric to `sink` (e.g. the store's batched writer). */
export function metricsSink(
  sink: (step: number, metrics: Record<string, number>) => Promise<void> | void,
): TrainerCallback {
  return { onMetrics: (step, metrics) => sink(step, metrics) };
}

export interface ProgressOptions {
  /** Print every N steps (default 10) and at the end. */
  every?: number;
  write?: (line: string) => void;
}

/** One line per N steps: step/total, epoch, loss, lr, images/s and ETA. */
export function progressLogger(opts: ProgressOptions = {}): TrainerCallback {
  const every = opts.every ?? 10;
  const write = opts.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  let started = 0;
  let firstStep = 0;
  return {
    onTrainStart(t) {
      started = performance.now();
      firstStep = t.step;
    },
    onStepEnd(info, t) {
      if (info.step % every !== 0 && info.step !== t.totalSteps) return;
      const elapsed = (performance.now() - started) / 1000;
      const perStep = elapsed / Math.max(1, info.step - firstStep);
      const eta = perStep * (t.totalSteps - info.step);
      const m = t.lastMetrics;
      write(
        `step ${info.step}/${t.totalSteps} epoch ${info.epoch + 1} loss ${info.loss.toFixed(4)} lr ${(m.lr ?? 0).toExponential(2)} ` +
          `${Math.round(m.images_per_sec ?? 0)} img/s eta ${formatDuration(eta)}`,
      );
    },
    onTrainEnd(info) {
      write(
        `training ${info.status} at step ${info.step} after ${formatDuration((performance.now() - started) / 1000)}`,
      );
    },
  };
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : m > 0
      ? `${m}m${String(s % 60).padStart(2, "0")}s`
      : `${s}s`;
}

export interface CheckpointingOptions {
  /** Checkpoints go to `<runDir>/checkpoints/step-XXXXXXXX`. */
  runDir: string;
  everySteps?: number;
  everyEpochs?: number;
  /** Keep the last N checkpoints (default 3)... */
  keepLast?: number;
  /** ...and the best one by this metric. */
  best?: BestCheckpointRule;
  /** Write one when training is interrupted (default true) or completes (default true). */
  onInterrupt?: boolean;
  atEnd?: boolean;
}

/** Writes checkpoints periodically, on interrupt and at the end; never after a failure. */
export function checkpointing(opts: CheckpointingOptions): TrainerCallback {
  let savedStep = -1;
  const save = async (t: TrainerView) => {
    if (t.step === savedStep) return;
    await t.saveCheckpoint(checkpointDirFor(opts.runDir, t.step));
    savedStep = t.step;
    await pruneCheckpoints(opts.runDir, { keepLast: opts.keepLast ?? 3, best: opts.best });
  };
  return {
    async onStepEnd(info, t) {
      if (opts.everySteps && info.step % opts.everySteps === 0) await save(t);
    },
    async onEpochEnd(epoch, t) {
      if (opts.everyEpochs && (epoch + 1) % opts.everyEpochs === 0) await save(t);
    },
    async onTrainEnd(info, t) {
      if (info.status === "interrupted" && (opts.onInterrupt ?? true)) await save(t);
      if (info.status === "completed" && (opts.atEnd ?? true)) await save(t);
    },
  };
}

export interface EvaluatorUse {
  spec: EvaluatorSpec;
  /** Raw options, parsed with the spec's schema (defaults applied). */
  options?: unknown;
}

export interface EvaluateEveryOptions {
  everyEpochs: number;
  evaluators: EvaluatorUse[];
  /** Labelled dataset to evaluate on (default: the training dataset). */
  dataset?: Dataset;
  batchSize?: number;
  /** Also evaluate when training completes (default true, unless the last epoch just did). */
  atEnd?: boolean;
  onResults?: (results: EvaluationResult[], step: number) => Promise<void> | void;
}

/** Metric name of an evaluation result: "<protocol>_<metric>", plus "_<n>pc" for few-label results. */
export function evaluationMetricName(r: EvaluationResult): string {
  return `${r.protocol}_${r.metric}${r.labelsPerClass !== undefined ? `_${r.labelsPerClass}pc` : ""}`;
}

/**
 * Runs evaluators on `method.encoder()` every N epochs and emits their values as metrics. Each
 * evaluation gets its own Rng (from the run seed and epoch), so training randomness is untouched.
 */
export function evaluateEvery(opts: EvaluateEveryOptions): TrainerCallback {
  let evaluatedStep = -1;
  const run = async (t: TrainerView) => {
    if (evaluatedStep === t.step) return;
    evaluatedStep = t.step;
    const encoder = t.method.encoder();
    const wasTraining = encoder.training;
    const all: EvaluationResult[] = [];
    try {
      for (const { spec, options } of opts.evaluators) {
        const parsed = spec.options.parse(options ?? {});
        const rng = new Rng((t.config.seed * 1000003 + t.epoch) >>> 0);
        all.push(
          ...(await spec.evaluate(parsed, {
            encoder,
            dataset: opts.dataset ?? t.dataset,
            rng,
            batchSize: opts.batchSize ?? 256,
          })),
        );
      }
    } finally {
      encoder.train(wasTraining);
    }
    const metrics: Record<string, number> = {};
    for (const r of all) {
      metrics[evaluationMetricName(r)] = r.value;
      if (r.std !== undefined) metrics[`${evaluationMetricName(r)}_std`] = r.std;
    }
    await t.emit(t.step, metrics);
    await opts.onResults?.(all, t.step);
  };
  return {
    async onEpochEnd(epoch, t) {
      if ((epoch + 1) % opts.everyEpochs === 0) await run(t);
    },
    async onTrainEnd(info, t) {
      if (info.status === "completed" && (opts.atEnd ?? true)) await run(t);
    },
  };
}
