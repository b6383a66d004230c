/**
 * Starting and stopping sweeps from code: the CLI (`selfsup sweep`, `sweep stop`) and the tRPC
 * control API (`sweepStart`, `sweepStop`) share these. `planFor` runs every check that needs no
 * database (it loads the dataset once, so parameter paths resolve against the backbone the run
 * would get).
 */
import { type InputSpec, initBackend, type Registry } from "@selfsup/core";
import { type RunStore, StoreError, type Sweep, SweepStore } from "@selfsup/store";
import { ConfigError, parseRunConfig } from "../config.js";
import type { RunQueue } from "../queue.js";
import { loadDataset } from "../run/dataset.js";
import { preflight } from "../run/preflight.js";
import { cancelRun } from "../run/submit.js";
import { coordinate, coordinatorName } from "./coordinator.js";
import { planSweep, type SweepFile, type SweepPlan } from "./spec.js";

/** How long a coordinator's lease lasts without renewal before `resume` may take the sweep. */
export const LEASE_MS = 15_000;

export async function planFor(
  spec: SweepFile,
  registry: Registry,
  withPreflight: boolean,
): Promise<{ plan: SweepPlan; input?: InputSpec }> {
  let input: InputSpec | undefined;
  let datasetOk = false;
  try {
    const cfg = parseRunConfig(spec.run, "sweep file: run");
    if (registry.has("dataset", cfg.dataset.name)) {
      const dataset = await loadDataset(registry, cfg.dataset);
      input = dataset.input;
      datasetOk = true;
      const plan = planSweep(spec, registry, { input });
      if (withPreflight) {
        await initBackend(plan.base.backend);
        await preflight(registry, plan.base, dataset);
      }
      return { plan, input };
    }
  } catch (err) {
    if (!(err instanceof ConfigError) || datasetOk) throw err;
  }
  // planSweep reports the base config's problem, naming the field
  return { plan: planSweep(spec, registry, input ? { input } : {}) };
}

/** Marks the sweep stopped (its coordinator exits) and cancels its queued and running runs. */
export async function stopSweep(
  store: RunStore,
  queue: RunQueue | undefined,
  idOrName: string,
): Promise<{ sweep: Sweep; cancelled: number }> {
  const sweeps = new SweepStore(store.db);
  const found = await sweeps.getSweep(idOrName);
  if (!found) throw new StoreError("not_found", `no sweep with id or name ${JSON.stringify(idOrName)}`, "id");
  if (found.status !== "running")
    throw new StoreError("conflict", `sweep ${found.name} is already ${found.status}`, "id");
  const sweep = await sweeps.setSweepStatus(found.id, "stopped");
  let cancelled = 0;
  for (const r of await sweeps.sweepRuns(found.id))
    if (r.status === "queued" || r.status === "running") {
      await cancelRun(store, queue, r.runId).catch(() => {});
      cancelled += 1;
    }
  return { sweep, cancelled };
}

const background = new Map<string, AbortController>();

/**
 * Validates a sweep file, stores the sweep and coordinates it in this process in the background,
 * queueing its runs for `selfsup worker` (the control server's way to start one). Resolves once
 * the sweep is stored; `stopBackgroundSweeps` ends the coordinators (the sweeps stay resumable).
 */
export async function startQueuedSweep(
  store: RunStore,
  registry: Registry,
  queue: RunQueue,
  spec: SweepFile,
  log: (line: string) => void = () => {},
): Promise<Sweep> {
  const { plan, input } = await planFor(spec, registry, false);
  const sweeps = new SweepStore(store.db);
  const sweep = await sweeps.createSweep({
    name: spec.name,
    spec: spec as unknown as Record<string, unknown>,
    search: spec.search,
    metric: spec.metric.name,
    goal: spec.metric.goal,
    mode: "queue",
  });
  const me = `${coordinatorName()}:${sweep.id.slice(-6)}`;
  await sweeps.claimSweep(sweep.id, me, LEASE_MS);
  const ctrl = new AbortController();
  background.set(sweep.id, ctrl);
  void coordinate({
    store,
    registry,
    sweep,
    plan,
    ...(input ? { input } : {}),
    mode: "queue",
    parallel: 1,
    queue,
    signal: ctrl.signal,
    coordinatorId: me,
  })
    .then((r) => log(`sweep ${sweep.name}: ${r.status}`))
    .catch((err: unknown) => log(`sweep ${sweep.name} coordinator failed: ${(err as Error).message}`))
    .finally(() => background.delete(sweep.id));
  return sweep;
}

export function stopBackgroundSweeps(): void {
  for (const c of background.values()) c.abort();
}
