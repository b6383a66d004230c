/**
 * `selfsup sweep <file>`, `sweep status|stop|resume <sweep>` and the hidden `sweep trial <run>`
 * (one run of a local sweep, in its own process). See src/sweep/ for the search itself.
 */
import type { InputSpec, Registry } from "@selfsup/core";
import { type RunStore, StoreError, type Sweep, SweepStore, type SweepTrial } from "@selfsup/store";
import { CliError, EXIT } from "../exit-codes.js";
import { isPostgresUrl, RunQueue } from "../queue.js";
import { executeRun } from "../run/execute.js";
import { stopOnSignals } from "../run/signals.js";
import { openRunnerStore } from "../store.js";
import { LEASE_MS, planFor, stopSweep } from "../sweep/control.js";
import {
  type CoordinatorResult,
  coordinate,
  coordinatorName,
  type SweepEvent,
} from "../sweep/coordinator.js";
import { loadSweepFile, parseSweepFile, type SweepPlan } from "../sweep/spec.js";
import { sweepTrialHooks } from "../sweep/trial.js";
import { registryWithWarnings } from "./train.js";

export interface SweepOptions {
  parallel?: string;
  local?: boolean;
  set?: string[];
  name?: string;
  json?: boolean;
  quiet?: boolean;
  dryRun?: boolean;
  poll?: string;
}

function parallelOf(opts: SweepOptions): number | undefined {
  if (opts.parallel === undefined) return undefined;
  const n = Number(opts.parallel);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new CliError(`--parallel: must be an integer from 1 to 64 (got ${opts.parallel})`, EXIT.usage);
  return n;
}

function pollOf(opts: SweepOptions): number {
  if (opts.poll === undefined) return 1000;
  const s = Number(opts.poll);
  if (!Number.isFinite(s) || s < 0.1)
    throw new CliError(`--poll: seconds >= 0.1 (got ${opts.poll})`, EXIT.usage);
  return s * 1000;
}

function fmtParams(p: Record<string, unknown>): string {
  return Object.entries(p)
    .map(
      ([k, v]) =>
        `${k.split(".").at(-1)}=${typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(3) : JSON.stringify(v)}`,
    )
    .join(" ");
}

function reporter(opts: { json?: boolean; quiet?: boolean }): (e: SweepEvent) => void {
  return (e) => {
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
      return;
    }
    if (opts.quiet) return;
    if (e.type === "trial")
      process.stderr.write(
        `trial ${e.idx} ${e.status}${e.value !== null ? ` ${e.value.toFixed(4)}` : ""}  ${fmtParams(e.params)}${e.error ? `\n  ${e.error.split("\n").join("\n  ")}` : ""}\n`,
      );
    else if (e.type === "sweep") process.stderr.write(`sweep ${e.name}: ${e.message}\n`);
    else if (e.action !== "exited" || (e.code ?? 0) !== 0)
      process.stderr.write(
        `  run ${e.runId} (trial ${e.trial}, seed ${e.seed}) ${e.action}${e.code !== undefined ? ` ${e.code}` : ""}\n`,
      );
  };
}

function summarize(
  sweep: Sweep,
  trials: SweepTrial[],
  out: { json?: boolean; quiet?: boolean },
  result: CoordinatorResult["status"],
) {
  const sign = sweep.goal === "maximize" ? -1 : 1;
  const done = trials.filter((t) => t.status === "completed" && t.value !== null);
  const best = [...done].sort((a, b) => sign * ((a.value as number) - (b.value as number)))[0];
  const counts: Record<string, number> = {};
  for (const t of trials) counts[t.status] = (counts[t.status] ?? 0) + 1;
  if (out.json) {
    process.stdout.write(
      `${JSON.stringify({ type: "summary", id: sweep.id, name: sweep.name, result, counts, best: best ?? null })}\n`,
    );
    return;
  }
  if (out.quiet) return;
  process.stderr.write(
    `sweep ${sweep.name} (${sweep.id}) ${result}: ${Object.entries(counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(", ")}\n`,
  );
  if (best)
    process.stderr.write(
      `best: trial ${best.idx} ${sweep.metric} ${best.value?.toFixed(4)}${best.valueStd ? ` ± ${best.valueStd.toFixed(4)}` : ""}  ${fmtParams(best.params)}\n`,
    );
  if (result === "interrupted") process.stderr.write(`continue with: selfsup sweep resume ${sweep.name}\n`);
}

function exitFor(result: CoordinatorResult["status"]): number {
  if (result === "finished" || result === "stopped") return EXIT.ok;
  if (result === "interrupted") return EXIT.interrupted;
  return EXIT.failure;
}

async function runCoordinator(
  store: RunStore,
  registry: Registry,
  sweep: Sweep,
  plan: SweepPlan,
  input: InputSpec | undefined,
  opts: SweepOptions,
  coordinatorId: string,
): Promise<number> {
  const mode = sweep.mode;
  let queue: RunQueue | undefined;
  const stops = stopOnSignals((sig) => {
    if (!opts.json)
      process.stderr.write(
        `\n${sig}: stopping the sweep (runs checkpoint; \`selfsup sweep resume ${sweep.name}\` continues)\n`,
      );
  });
  try {
    if (mode === "queue") queue = await RunQueue.open({ url: process.env.DATABASE_URL as string, max: 2 });
    const result = await coordinate({
      store,
      registry,
      sweep,
      plan,
      ...(input ? { input } : {}),
      mode,
      parallel: parallelOf(opts) ?? 1,
      ...(queue ? { queue } : {}),
      signal: stops.signal,
      coordinatorId,
      onEvent: reporter(opts),
      pollMs: pollOf(opts),
    });
    summarize(sweep, result.trials, opts, result.status);
    if (result.status === "lost")
      throw new CliError(`another coordinator took sweep ${sweep.name} over; this one stopped`, EXIT.failure);
    return exitFor(result.status);
  } finally {
    stops.dispose();
    await queue?.stop(1000).catch(() => {});
  }
}

export async function sweepCommand(file: string, opts: SweepOptions): Promise<number> {
  const parallel = parallelOf(opts);
  const registry = await registryWithWarnings();
  const spec = await loadSweepFile(file, {
    ...(opts.set ? { set: opts.set } : {}),
    ...(opts.name ? { name: opts.name } : {}),
  });
  const { plan, input } = await planFor(spec, registry, true);
  const url = process.env.DATABASE_URL;
  const mode = parallel !== undefined || opts.local || !isPostgresUrl(url) ? "local" : "queue";
  if (opts.dryRun) {
    process.stdout.write(
      `${JSON.stringify({ name: spec.name, mode, trials: plan.trials, runs: plan.trials * spec.seeds, epochs: plan.epochs, rungs: plan.rungs, search: spec.search }, null, 2)}\n`,
    );
    return EXIT.ok;
  }
  const store = await openRunnerStore(mode === "queue" ? { poolSize: 4 } : {});
  try {
    const sweeps = new SweepStore(store.db);
    let sweep: Sweep;
    try {
      sweep = await sweeps.createSweep({
        name: spec.name,
        spec: spec as unknown as Record<string, unknown>,
        search: spec.search,
        metric: spec.metric.name,
        goal: spec.metric.goal,
        mode,
      });
    } catch (err) {
      if (err instanceof StoreError && err.code === "conflict") throw new CliError(err.message, EXIT.usage);
      throw err;
    }
    const me = coordinatorName();
    await sweeps.claimSweep(sweep.id, me, LEASE_MS);
    if (!opts.json && !opts.quiet)
      process.stderr.write(
        `sweep ${sweep.name} (${sweep.id}): ${spec.search}, ${plan.trials} trials x ${spec.seeds} seed(s), ${plan.epochs} epochs${plan.rungs.length ? `, ASHA rungs at epochs ${plan.rungs.join(", ")}` : ""}; ${mode === "queue" ? "queued for `selfsup worker`" : `${Math.min(parallel ?? 1, spec.budget.max_concurrent)} local process(es)`}\n`,
      );
    return await runCoordinator(store, registry, sweep, plan, input, opts, me);
  } finally {
    await store.close();
  }
}

async function findSweep(sweeps: SweepStore, idOrName: string): Promise<Sweep> {
  const sweep = await sweeps.getSweep(idOrName);
  if (!sweep) {
    const recent = await sweeps.listSweeps({ first: 5 });
    throw new CliError(
      `no sweep with id or name ${JSON.stringify(idOrName)}${recent.length ? ` (recent: ${recent.map((s) => s.name).join(", ")})` : ""}`,
      EXIT.usage,
    );
  }
  return sweep;
}

export async function sweepResumeCommand(
  idOrName: string,
  opts: SweepOptions & { force?: boolean },
): Promise<number> {
  parallelOf(opts);
  const registry = await registryWithWarnings();
  const store = await openRunnerStore(process.env.DATABASE_URL ? { poolSize: 4 } : {});
  try {
    const sweeps = new SweepStore(store.db);
    const sweep = await findSweep(sweeps, idOrName);
    if (sweep.status === "finished") throw new CliError(`sweep ${sweep.name} already finished`, EXIT.usage);
    if (sweep.status === "stopped")
      throw new CliError(
        `sweep ${sweep.name} was stopped (selfsup sweep stop); start a new sweep instead`,
        EXIT.usage,
      );
    if (sweep.mode === "queue" && !isPostgresUrl(process.env.DATABASE_URL))
      throw new CliError(
        `sweep ${sweep.name} queues its runs: set DATABASE_URL to its PostgreSQL`,
        EXIT.usage,
      );
    const me = coordinatorName();
    if (!(await sweeps.claimSweep(sweep.id, me, opts.force ? 0 : LEASE_MS))) {
      const age = sweep.coordinatorAt ? Math.round((Date.now() - sweep.coordinatorAt.getTime()) / 1000) : "?";
      throw new CliError(
        `sweep ${sweep.name} is being run by ${sweep.coordinator} (seen ${age} s ago); if that process is gone, wait ${LEASE_MS / 1000} s or use --force`,
        EXIT.failure,
      );
    }
    const spec = parseSweepFile(sweep.spec, `stored sweep ${sweep.id}`);
    const { plan, input } = await planFor(spec, registry, false);
    if (!opts.json && !opts.quiet) process.stderr.write(`resuming sweep ${sweep.name} (${sweep.id})\n`);
    return await runCoordinator(store, registry, sweep, plan, input, opts, me);
  } finally {
    await store.close();
  }
}

export async function sweepStatusCommand(idOrName: string, opts: { json?: boolean }): Promise<number> {
  const store = await openRunnerStore();
  try {
    const sweeps = new SweepStore(store.db);
    const sweep = await findSweep(sweeps, idOrName);
    const trials = await sweeps.listTrials(sweep.id);
    const runs = await sweeps.sweepRuns(sweep.id);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ sweep, trials, runs })}\n`);
      return EXIT.ok;
    }
    process.stdout.write(
      `${sweep.name} (${sweep.id}) ${sweep.status}, ${sweep.search}, ${sweep.metric} (${sweep.goal}), ${sweep.mode}\n`,
    );
    for (const t of trials)
      process.stdout.write(
        `  ${String(t.idx).padStart(3)} ${t.status.padEnd(9)} ${t.value !== null ? t.value.toFixed(4) : "      "}${t.valueStd ? ` ± ${t.valueStd.toFixed(4)}` : ""}${t.prunedAt ? ` (pruned at epoch ${t.prunedAt})` : ""}  ${fmtParams(t.params)}\n`,
      );
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

export async function sweepStopCommand(idOrName: string, opts: { json?: boolean }): Promise<number> {
  const store = await openRunnerStore();
  let queue: RunQueue | undefined;
  try {
    if (isPostgresUrl(process.env.DATABASE_URL))
      queue = await RunQueue.open({ url: process.env.DATABASE_URL, max: 1 });
    let result: Awaited<ReturnType<typeof stopSweep>>;
    try {
      result = await stopSweep(store, queue, idOrName);
    } catch (err) {
      if (err instanceof StoreError) throw new CliError(err.message, EXIT.usage);
      throw err;
    }
    const { sweep, cancelled } = result;
    if (opts.json)
      process.stdout.write(`${JSON.stringify({ id: sweep.id, status: sweep.status, cancelled })}\n`);
    else process.stdout.write(`stopped sweep ${sweep.name}; cancelled ${cancelled} run(s)\n`);
    return EXIT.ok;
  } finally {
    await queue?.stop(1000).catch(() => {});
    await store.close();
  }
}

/** One run of a local sweep, in a process of its own; stops when the coordinator goes away. */
export async function sweepTrialCommand(runId: string, opts: { resume?: boolean }): Promise<number> {
  const registry = await registryWithWarnings();
  const store = await openRunnerStore();
  const parentGone = new AbortController();
  const onDisconnect = () => parentGone.abort("coordinator gone");
  process.on("disconnect", onDisconnect);
  if (process.send !== undefined && !process.connected) parentGone.abort("coordinator gone");
  const stops = stopOnSignals();
  try {
    const hooks = await sweepTrialHooks(store, runId);
    if (!hooks) throw new CliError(`run ${runId} is not part of a sweep`, EXIT.usage);
    const result = await executeRun({
      store,
      registry,
      runId,
      ...(opts.resume ? { resume: true } : {}),
      signal: AbortSignal.any([stops.signal, parentGone.signal]),
      cancelSignal: hooks.cancelSignal,
      callbacks: hooks.callbacks,
    });
    if (result.status === "finished" || (result.status === "cancelled" && hooks.pruned())) return EXIT.ok;
    if (result.status === "interrupted" || result.status === "cancelled") return EXIT.interrupted;
    return EXIT.failure;
  } finally {
    stops.dispose();
    process.off("disconnect", onDisconnect);
    await store.close();
  }
}
