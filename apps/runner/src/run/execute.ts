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
 *
 * `executeRun` reads as its phases, each a method of `RunExecution` below: resolve (config,
 * backend, heartbeat, dataset) -> preflight (evaluators, memory) -> build (method, augmentations)
 * -> resumePoint -> openMetrics -> train -> evaluate -> finish (or fail), then close.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Run, RunStore } from "@selfsup/store";
import { runDirFor } from "../home.js";
import { type ExecuteRunOptions, type ExecuteRunResult, RunExecution, RunStateError } from "./execution.js";

export { augmentationSteps, buildMethod } from "./build.js";
export { type ExecuteRunOptions, type ExecuteRunResult, RunStateError } from "./execution.js";
export { resumableCheckpoint } from "./resume.js";

export async function executeRun(opts: ExecuteRunOptions): Promise<ExecuteRunResult> {
  const run = await runnableRun(opts.store, opts.runId);
  await mkdir(path.join(runDirFor(opts.runId), "artifacts"), { recursive: true });
  const x = new RunExecution(opts, run);
  try {
    const { cfg, backend, dataset } = await x.resolve();
    const memory = await x.preflight(cfg, dataset);
    const { method, pipeline } = x.build(cfg, dataset, memory);
    const resume = await x.resumePoint();
    x.openMetrics();
    if (!resume.from) await x.previewAugmentations(cfg, dataset, method, pipeline);
    const fit = await x.train(cfg, backend, dataset, method, pipeline, resume);
    if (fit.status === "completed") await x.evaluate(cfg, dataset, method);
    return await x.finish(fit);
  } catch (err) {
    return await x.fail(err);
  } finally {
    await x.close();
  }
}

/** The stored run, if it can be executed (it exists and is not cancelled or finished). */
async function runnableRun(store: RunStore, runId: string): Promise<Run> {
  const run = await store.getRun(runId);
  if (!run) throw new RunStateError(`no run with id ${runId}`);
  if (run.status === "cancelled") throw new RunStateError(`run ${runId} was cancelled`);
  if (run.status === "finished") throw new RunStateError(`run ${runId} already finished`);
  return run;
}
