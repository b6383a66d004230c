/**
 * The worker loop: takes queued runs from pg-boss one at a time and executes them. See queue.ts
 * for what happens on failure, crash and shutdown.
 */
import os from "node:os";
import type { Registry } from "@selfsup/core";
import type { RunStore } from "@selfsup/store";
import type { Job } from "pg-boss";
import type { ProgressSink } from "../progress/events.js";
import type { RunJobData, RunQueue } from "../queue.js";
import { staleAfterMs } from "../store.js";
import { sweepTrialHooks } from "../sweep/trial.js";
import { type ExecuteRunResult, executeRun } from "./execute.js";

export interface WorkerOptions {
  store: RunStore;
  queue: RunQueue;
  registry: Registry;
  /** Stops the worker: the current run is interrupted (checkpoint) and its job retried elsewhere. */
  signal: AbortSignal;
  onProgress?: ProgressSink;
  log?: (line: string) => void;
  /** Stop after this many runs. */
  maxRuns?: number;
  pollingIntervalSeconds?: number;
  /** Identifies this worker in the run's `host` column. */
  name?: string;
}

export interface WorkerHandle {
  /** Resolves when the worker stopped (signal, or maxRuns reached). */
  done: Promise<{ runs: number }>;
}

export class WorkerShutdown extends Error {
  override name = "WorkerShutdown";
}

export async function startWorker(opts: WorkerOptions): Promise<WorkerHandle> {
  const { store, queue, registry } = opts;
  const log = opts.log ?? (() => {});
  const name = opts.name ?? `${os.hostname()}:${process.pid}`;
  let runs = 0;
  let finish: (v: { runs: number }) => void = () => {};
  const done = new Promise<{ runs: number }>((resolve) => {
    finish = resolve;
  });
  let stopping = false;
  let active: Promise<unknown> | undefined;

  // Runs whose worker died stop heartbeating: fail them (their job is retried by pg-boss).
  const sweep = setInterval(
    () => {
      store.markStaleRuns(staleAfterMs()).then(
        (ids) => {
          if (ids.length > 0) log(`marked failed (stale heartbeat): ${ids.join(", ")}`);
        },
        () => {},
      );
    },
    Math.max(1000, Math.min(30_000, staleAfterMs() / 2)),
  );
  sweep.unref();

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(sweep);
    await active?.catch(() => {});
    await queue.stop(30_000).catch(() => {});
    finish({ runs });
  };
  opts.signal.addEventListener("abort", () => void stop(), { once: true });

  const handle = async (job: Job<RunJobData>): Promise<unknown> => {
    const runId = job.data?.runId;
    if (!runId) return { skipped: "job without runId" };
    const run = await store.getRun(runId);
    if (!run) {
      log(`job ${job.id}: run ${runId} no longer exists; skipped`);
      return { skipped: "no such run" };
    }
    if (run.status === "cancelled" || run.status === "finished") {
      log(`run ${runId} is ${run.status}; skipped`);
      return { skipped: run.status };
    }
    // A run that already started (a previous attempt died or was shut down) resumes from its
    // last checkpoint; pg-boss hands a job to one worker at a time, so the attempt is ours.
    const resume = run.status !== "queued";
    log(
      `${resume ? "resuming" : "starting"} run ${runId} (${run.name})${job.retryCount > 0 ? `, attempt ${job.retryCount + 1}` : ""}`,
    );
    let result: ExecuteRunResult;
    try {
      // A sweep's run records its metric per epoch and may be stopped by ASHA (sweep/trial.ts).
      const sweep = await sweepTrialHooks(store, runId);
      result = await executeRun({
        ...(sweep ? { callbacks: sweep.callbacks, cancelSignal: sweep.cancelSignal } : {}),
        store,
        registry,
        runId,
        resume,
        // The job's signal fires on a queue cancel, a timeout or pg-boss stopping: stop at a
        // checkpoint. A user's cancel is kept by the store (finishRun never un-cancels a run).
        signal: AbortSignal.any([opts.signal, job.signal]),
        host: name,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
    } catch (err) {
      // Not executable (cancelled in the meantime, ...): nothing to retry.
      log(`run ${runId}: ${(err as Error).message}`);
      return { skipped: (err as Error).message };
    }
    runs += 1;
    log(`run ${runId} ${result.status} at step ${result.step}${result.error ? `: ${result.error}` : ""}`);
    if (opts.maxRuns !== undefined && runs >= opts.maxRuns) setImmediate(() => void stop());
    if (result.status === "interrupted") {
      // Shut down mid-run: fail the job so pg-boss retries it (a worker resumes the checkpoint).
      throw new WorkerShutdown(
        `worker ${name} shut down; run ${runId} interrupted at step ${result.step}, to be resumed`,
      );
    }
    return { status: result.status, step: result.step };
  };

  await queue.work(
    async (job) => {
      if (stopping) throw new WorkerShutdown("worker is stopping");
      const p = handle(job);
      active = p;
      try {
        return await p;
      } finally {
        active = undefined;
      }
    },
    { pollingIntervalSeconds: opts.pollingIntervalSeconds ?? 2 },
  );
  log(`worker ${name} waiting for runs`);
  return { done };
}
