/**
 * The sweep coordinator: the process of `selfsup sweep <file>` / `sweep resume`. It holds the
 * sweep's lease in the store and, once a second (poll):
 *
 * 1. derives each trial's status from its runs and ASHA's rung decisions (the store is the truth;
 *    nothing here is remembered between polls, so a new coordinator picks up where one died);
 * 2. starts runs: locally, a child process per run (`selfsup sweep trial <run>`, at most
 *    `--parallel`), resuming interrupted ones from their checkpoint; or queued on pg-boss for
 *    `selfsup worker` processes (whose retries resume a dead worker's run);
 * 3. asks the sampler for the next configuration while fewer than `max_concurrent` runs are active
 *    and the budget is not spent (TPE sees every result recorded so far), writes the trial with
 *    its parameters, then one run per seed (`<sweep>-t<idx>-s<seed>`, tagged `sweep:<name>`);
 * 4. ends the sweep when every trial of the budget has ended.
 *
 * Ctrl-C stops launching, lets local runs checkpoint (status interrupted) and leaves the sweep
 * `running` for `resume`; a kill -9 of the coordinator does the same through the children's IPC
 * channel closing. Queued runs keep training on workers while no coordinator is alive.
 */
import { type ChildProcess, spawn } from "node:child_process";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { InputSpec, Registry } from "@selfsup/core";
import {
  type RungDecision,
  type RunStore,
  type Sweep,
  type SweepEpochValue,
  type SweepRunState,
  SweepStore,
  type SweepTrial,
  type TrialPatch,
  type TrialStatus,
} from "@selfsup/store";
import { ConfigError, type RunConfig } from "../config.js";
import type { RunQueue } from "../queue.js";
import { nextParams } from "./sampler.js";
import { paramsKey } from "./space.js";
import { type SweepPlan, trialConfig } from "./spec.js";
import type { Observation } from "./tpe.js";
import { PRUNED_TAG } from "./trial.js";

export type SweepEvent =
  | { type: "sweep"; id: string; name: string; status: string; message: string }
  | {
      type: "trial";
      sweep: string;
      idx: number;
      status: TrialStatus;
      params: Record<string, unknown>;
      value: number | null;
      error?: string | null;
    }
  | {
      type: "run";
      sweep: string;
      trial: number;
      seed: number;
      runId: string;
      action: "queued" | "started" | "resumed" | "exited";
      code?: number;
    };

const TERMINAL_TRIALS: ReadonlySet<TrialStatus> = new Set([
  "completed",
  "pruned",
  "failed",
  "invalid",
  "cancelled",
]);
const ACTIVE_RUN = new Set(["queued", "running"]);

export function isTrialDone(status: TrialStatus): boolean {
  return TERMINAL_TRIALS.has(status);
}

/** Error text of a run whose local process exited without ending it (resumable, like a stale one). */
export const PROCESS_EXITED = "its process exited before the run ended";

/** A run of this sweep whose process died (kill -9, lost host) and can continue from its checkpoint. */
export function resumable(run: SweepRunState): boolean {
  if (run.tags.includes(PRUNED_TAG)) return false;
  return (
    run.status === "interrupted" ||
    (run.status === "failed" &&
      (/stale heartbeat/.test(run.error ?? "") || (run.error ?? "").startsWith(PROCESS_EXITED)))
  );
}

/** Attempts at one run in one coordinator before its trial is given up as failed. */
const MAX_ATTEMPTS = 3;

function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1)) : 0;
  return { mean, std };
}

/**
 * A trial's status and figures from its runs, epoch values and rung decisions. `value` is the mean
 * over seeds of each run's metric at the last epoch it recorded (a pruned trial: at its rung).
 */
export function deriveTrial(
  trial: SweepTrial,
  runs: readonly SweepRunState[],
  values: readonly SweepEpochValue[],
  decisions: readonly RungDecision[],
  seeds: number,
): TrialPatch & { status: TrialStatus } {
  if (trial.status === "invalid") return { status: "invalid" };
  const stop = decisions.find((d) => d.trialIdx === trial.idx && d.decision === "stop");
  const lastByRun = new Map<string, SweepEpochValue>();
  for (const v of values) {
    if (v.trialIdx !== trial.idx) continue;
    const prev = lastByRun.get(v.runId);
    if (!prev || v.epoch > prev.epoch) lastByRun.set(v.runId, v);
  }
  const finals = stop
    ? values.filter((v) => v.trialIdx === trial.idx && v.epoch === stop.rung).map((v) => v.value)
    : [...lastByRun.values()].map((v) => v.value);
  const figures: TrialPatch =
    finals.length > 0
      ? (() => {
          const { mean, std } = meanStd(finals);
          return { value: mean, valueStd: std };
        })()
      : {};
  const epochs = lastByRun.size > 0 ? Math.min(...[...lastByRun.values()].map((v) => v.epoch)) : null;
  const active = runs.some((r) => ACTIVE_RUN.has(r.status) || resumable(r));
  if (stop)
    return { status: active ? "running" : "pruned", prunedAt: stop.rung, epochs: stop.rung, ...figures };
  if (runs.length < seeds || active)
    return { status: runs.length === 0 ? "pending" : "running", epochs, ...figures };
  if (runs.every((r) => r.status === "finished")) {
    if (finals.length === 0)
      return { status: "failed", error: "the runs finished without reporting the sweep's metric", epochs };
    return { status: "completed", epochs, ...figures };
  }
  const failed = runs.find((r) => r.status === "failed");
  if (failed) return { status: "failed", error: failed.error ?? "failed", epochs, ...figures };
  return { status: "cancelled", epochs, ...figures };
}

/** What TPE learns from: every ended trial with a value (pruned ones rank below completed). */
export function observations(trials: readonly SweepTrial[]): Observation[] {
  return trials
    .filter((t) => (t.status === "completed" || t.status === "pruned") && t.value !== null)
    .map((t) => ({
      params: t.params,
      value: t.value as number,
      ...(t.status === "pruned" ? { pruned: true, epochs: t.prunedAt ?? 0 } : {}),
    }));
}

export interface CoordinatorOptions {
  store: RunStore;
  registry: Registry;
  sweep: Sweep;
  plan: SweepPlan;
  /** The dataset's input, so trial configs resolve their backbone as a run would. */
  input?: InputSpec;
  /** local: child processes here; queue: pg-boss for `selfsup worker`. */
  mode: "local" | "queue";
  /** Most local run processes at once. */
  parallel: number;
  queue?: RunQueue;
  /** Ctrl-C: stop launching, let local runs checkpoint, leave the sweep resumable. */
  signal: AbortSignal;
  coordinatorId: string;
  onEvent?: (e: SweepEvent) => void;
  pollMs?: number;
  /** Environment of local run processes (default: this process'). */
  env?: NodeJS.ProcessEnv;
}

export interface CoordinatorResult {
  status: "finished" | "stopped" | "interrupted" | "lost";
  trials: SweepTrial[];
}

const cliPath = fileURLToPath(new URL("../cli.js", import.meta.url));

export async function coordinate(opts: CoordinatorOptions): Promise<CoordinatorResult> {
  const { store, plan, sweep } = opts;
  const sweeps = new SweepStore(store.db);
  const emit = (e: SweepEvent) => {
    try {
      opts.onEvent?.(e);
    } catch {
      // a broken reporter must not stop the sweep
    }
  };
  const children = new Map<string, ChildProcess>();
  const attempts = new Map<string, number>();
  const pollMs = opts.pollMs ?? 1000;
  const inFlight =
    opts.mode === "local"
      ? Math.min(opts.parallel, plan.spec.budget.max_concurrent)
      : plan.spec.budget.max_concurrent;
  const lastStatus = new Map<number, TrialStatus>();
  const tag = `sweep:${sweep.name}`.slice(0, 64);

  const launch = (run: SweepRunState, resume: boolean) => {
    const child = spawn(
      process.execPath,
      [cliPath, "sweep", "trial", run.runId, ...(resume ? ["--resume"] : [])],
      {
        env: opts.env ?? process.env,
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      },
    );
    let err = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (c: string) => {
      err = (err + c).slice(-4000);
    });
    children.set(run.runId, child);
    attempts.set(run.runId, (attempts.get(run.runId) ?? 0) + 1);
    child.on("exit", (code, signal) => {
      const c = code ?? (signal ? 128 : 1);
      // A process that died mid-run (out of memory, killed) left the run "running": mark it so
      // the next poll resumes it from its checkpoint (or gives it up after MAX_ATTEMPTS).
      void store
        .getRun(run.runId)
        .then(async (r) => {
          if (r?.status === "running" || r?.status === "queued")
            await store.finishRun(run.runId, { status: "failed", error: `${PROCESS_EXITED} (code ${c})` });
        })
        .catch(() => {})
        .finally(() => children.delete(run.runId));
      emit({
        type: "run",
        sweep: sweep.id,
        trial: run.trialIdx,
        seed: run.seed,
        runId: run.runId,
        action: "exited",
        code: c,
      });
      if (c !== 0 && c !== 130 && err.trim())
        emit({
          type: "sweep",
          id: sweep.id,
          name: sweep.name,
          status: "running",
          message: `run ${run.runId}: ${err.trim().split("\n").slice(-3).join(" | ")}`,
        });
    });
    child.on("error", () => {});
    emit({
      type: "run",
      sweep: sweep.id,
      trial: run.trialIdx,
      seed: run.seed,
      runId: run.runId,
      action: resume ? "resumed" : "started",
    });
  };

  const createRuns = async (
    trial: SweepTrial,
    have: readonly SweepRunState[],
    configs: Map<number, RunConfig>,
  ) => {
    const method = opts.registry.get("method", plan.base.method.name);
    for (let s = 0; s < plan.spec.seeds; s++) {
      if (have.some((r) => r.seed === s)) continue;
      const config = configs.get(s) ?? trialConfig(plan.spec, trial.params, s, opts.registry, opts.input);
      const run = await store.createRun({
        name: `${sweep.name}-t${trial.idx}-s${s}`,
        method: config.method.name,
        family: method.family,
        backbone: config.backbone?.name ?? null,
        dataset: config.dataset.name,
        config: { ...config, name: `${sweep.name}-t${trial.idx}-s${s}`, tags: [...config.tags, tag] },
        status: "queued",
        tags: [...config.tags, tag],
      });
      await sweeps.linkRun({ runId: run.id, sweepId: sweep.id, trialIdx: trial.idx, seed: s });
      if (opts.mode === "queue" && opts.queue) await opts.queue.submit(run.id);
      emit({ type: "run", sweep: sweep.id, trial: trial.idx, seed: s, runId: run.id, action: "queued" });
    }
  };

  const stopChildren = () => {
    for (const c of children.values()) if (c.connected) c.disconnect();
  };
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    stopChildren();
  };
  opts.signal.addEventListener("abort", onAbort, { once: true });

  try {
    for (;;) {
      if (!(await sweeps.touchSweep(sweep.id, opts.coordinatorId))) {
        stopChildren();
        return { status: "lost", trials: await sweeps.listTrials(sweep.id) };
      }
      const current = await sweeps.getSweep(sweep.id);
      if (current && current.status !== "running") {
        stopChildren();
        await waitForChildren(children, 60_000);
        return { status: "stopped", trials: await sweeps.listTrials(sweep.id) };
      }
      await store.markStaleRuns(Number(process.env.SELFSUP_STALE_AFTER_MS) || 60_000).catch(() => []);
      let trials = await sweeps.listTrials(sweep.id);
      let runs = await sweeps.sweepRuns(sweep.id);
      const values = await sweeps.epochValues(sweep.id);
      const decisions = await sweeps.rungDecisions(sweep.id);

      // 1. trial statuses from their runs
      for (const t of trials) {
        if (isTrialDone(t.status) && t.status !== "pruned") continue;
        const mine = runs.filter((r) => r.trialIdx === t.idx);
        const d = deriveTrial(t, mine, values, decisions, plan.spec.seeds);
        const changed =
          d.status !== t.status || (d.value ?? null) !== t.value || (d.epochs ?? null) !== (t.epochs ?? null);
        if (changed) {
          await sweeps.updateTrial(sweep.id, t.idx, d);
          Object.assign(t, { ...d, value: d.value ?? t.value });
        }
        if (lastStatus.get(t.idx) !== t.status) {
          lastStatus.set(t.idx, t.status);
          emit({
            type: "trial",
            sweep: sweep.id,
            idx: t.idx,
            status: t.status,
            params: t.params,
            value: t.value,
            error: t.error,
          });
        }
        // Seeds of a pruned trial that have not started need not run; locally, neither need ones
        // stopped mid-way (Ctrl-C, kill -9 of a coordinator) that would only stop again at once.
        // (On workers an interrupted run's job is retried and stops itself before a step.)
        if (d.prunedAt !== undefined && d.prunedAt !== null)
          for (const r of mine) {
            if (children.has(r.runId)) continue;
            if (r.status === "queued") {
              await store.cancelRun(r.runId).catch(() => {});
              await opts.queue?.cancel(r.runId);
              await store.addTag(r.runId, PRUNED_TAG).catch(() => {});
            } else if (opts.mode === "local" && (r.status === "interrupted" || resumable(r))) {
              await store.finishRun(r.runId, { status: "cancelled" }).catch(() => {});
              await store.addTag(r.runId, PRUNED_TAG).catch(() => {});
            }
          }
      }

      if (interrupted) {
        await waitForChildren(children, 120_000);
        return { status: "interrupted", trials: await sweeps.listTrials(sweep.id) };
      }

      // 2. runs to start (local) / trials missing runs (after a crash between the two writes)
      for (const t of trials) {
        if (t.status !== "pending" && t.status !== "running") continue;
        const mine = runs.filter((r) => r.trialIdx === t.idx);
        if (mine.length < plan.spec.seeds) await createRuns(t, mine, new Map());
      }
      runs = await sweeps.sweepRuns(sweep.id);
      const pruned = new Set(trials.filter((t) => t.prunedAt !== null).map((t) => t.idx));
      const busy = () =>
        opts.mode === "local" ? children.size : runs.filter((r) => ACTIVE_RUN.has(r.status)).length;
      if (opts.mode === "local") {
        for (const r of runs) {
          if (children.size >= inFlight) break;
          if (children.has(r.runId) || pruned.has(r.trialIdx)) continue;
          if ((attempts.get(r.runId) ?? 0) >= MAX_ATTEMPTS) {
            if (resumable(r))
              await store
                .finishRun(r.runId, {
                  status: "failed",
                  error: `given up after ${MAX_ATTEMPTS} attempts: ${r.error ?? ""}`,
                })
                .catch(() => {});
            continue;
          }
          if (r.status === "queued") launch(r, false);
          else if (resumable(r)) launch(r, true);
        }
      }

      // 3. new trials while there is room
      const active = () => runs.filter((r) => ACTIVE_RUN.has(r.status) && !pruned.has(r.trialIdx)).length;
      while (trials.length < plan.trials && active() < inFlight && busy() < inFlight) {
        const idx = trials.length;
        let params = nextParams(plan, idx, observations(trials));
        // random/TPE may repeat a categorical-only configuration; a few redraws avoid wasting a trial
        for (
          let k = 1;
          k <= 5 &&
          plan.spec.search !== "grid" &&
          trials.some((t) => paramsKey(t.params) === paramsKey(params));
          k++
        )
          params = nextParams(plan, idx + k * 100_003, observations(trials));
        const configs = new Map<number, RunConfig>();
        let invalid: string | undefined;
        try {
          for (let s = 0; s < plan.spec.seeds; s++)
            configs.set(s, trialConfig(plan.spec, params, s, opts.registry, opts.input));
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          invalid = err.message;
        }
        const trial = await sweeps.addTrial(
          sweep.id,
          idx,
          params,
          invalid ? { status: "invalid", error: invalid } : {},
        );
        trials = [...trials, trial];
        emit({
          type: "trial",
          sweep: sweep.id,
          idx,
          status: trial.status,
          params: trial.params,
          value: null,
          error: trial.error,
        });
        lastStatus.set(idx, trial.status);
        if (trial.status === "invalid") continue;
        await createRuns(trial, [], configs);
        runs = await sweeps.sweepRuns(sweep.id);
        if (opts.mode === "local")
          for (const r of runs)
            if (
              r.trialIdx === idx &&
              r.status === "queued" &&
              children.size < inFlight &&
              !children.has(r.runId)
            )
              launch(r, false);
      }

      // 4. done?
      if (trials.length >= plan.trials && trials.every((t) => isTrialDone(t.status)) && children.size === 0) {
        await sweeps.setSweepStatus(sweep.id, "finished");
        emit({
          type: "sweep",
          id: sweep.id,
          name: sweep.name,
          status: "finished",
          message: "all trials ended",
        });
        return { status: "finished", trials };
      }
      await sleepOrAbort(pollMs, opts.signal);
    }
  } finally {
    opts.signal.removeEventListener("abort", onAbort);
    await sweeps.releaseSweep(sweep.id, opts.coordinatorId).catch(() => {});
  }
}

function sleepOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

async function waitForChildren(children: Map<string, ChildProcess>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (children.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
}

export function coordinatorName(): string {
  return `${os.hostname()}:${process.pid}`;
}
