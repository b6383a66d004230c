/**
 * Queueing a run: a `queued` row in the store plus a job on the pg-boss queue. Used by
 * `selfsup submit` and the tRPC `submit` procedure.
 */
import type { Registry } from "@selfsup/core";
import type { Run, RunStore } from "@selfsup/store";
import { asConfigError, parseRunConfig, type RunConfig, resolveRunConfig } from "../config.js";
import type { RunQueue } from "../queue.js";

/** Validates a raw config (shape, names, options) for queueing; throws ConfigError. */
export function validateForQueue(raw: unknown, registry: Registry, source = "run config"): RunConfig {
  const config = parseRunConfig(raw, source);
  try {
    // No dataset is loaded here, so a config without a backbone keeps it open: the worker fills
    // in the method's default for the dataset's input.
    return resolveRunConfig(config, registry);
  } catch (err) {
    throw asConfigError(err);
  }
}

export async function submitRun(
  store: RunStore,
  queue: RunQueue,
  registry: Registry,
  config: RunConfig,
  extra: { notes?: string } = {},
): Promise<Run> {
  const method = registry.get("method", config.method.name);
  const run = await store.createRun({
    ...(config.name ? { name: config.name } : {}),
    method: config.method.name,
    family: method.family,
    backbone: config.backbone?.name ?? null,
    dataset: config.dataset.name,
    config,
    status: "queued",
    tags: config.tags,
    ...(extra.notes ? { notes: extra.notes } : {}),
  });
  try {
    await queue.submit(run.id);
  } catch (err) {
    // Without a job the row would wait forever: take it back out of the queue.
    await store
      .finishRun(run.id, { status: "failed", error: `could not be queued: ${(err as Error).message}` })
      .catch(() => {});
    throw err;
  }
  return run;
}

/** Cancels a run: the store row (what workers and trainers watch) and its queue job. */
export async function cancelRun(store: RunStore, queue: RunQueue | undefined, runId: string): Promise<Run> {
  const run = await store.cancelRun(runId);
  await queue?.cancel(runId);
  return run;
}
