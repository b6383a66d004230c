/**
 * Per-request DataLoaders: every `Run.evaluations` (or metricKeys, metricStats, ...) asked for in
 * one tick is gathered into one SQL statement, and repeated keys are answered from the request's
 * cache. A new set is made for each request, so nothing is cached across users or time.
 */
import type { Artifact, Checkpoint, Evaluation, MetricStatsRow, Run, RunStore } from "@selfsup/store";
import DataLoader from "dataloader";

export interface Loaders {
  run: DataLoader<string, Run | null>;
  evaluations: DataLoader<string, Evaluation[]>;
  checkpoints: DataLoader<string, Checkpoint[]>;
  artifacts: DataLoader<string, Artifact[]>;
  metricKeys: DataLoader<string, string[]>;
  /** Keyed by `${runId}\u0000${key}`. */
  metricStats: DataLoader<string, MetricStatsRow>;
}

function groupBy<T>(ids: readonly string[], rows: T[], idOf: (row: T) => string): T[][] {
  const byId = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const row of rows) byId.get(idOf(row))?.push(row);
  return ids.map((id) => byId.get(id) ?? []);
}

/** Batches are capped so one statement's arrays stay moderate. */
const maxBatchSize = 500;

export function createLoaders(store: RunStore): Loaders {
  return {
    run: new DataLoader(
      async (ids) => {
        const runs = await store.runsByIds(ids);
        const byId = new Map(runs.map((r) => [r.id, r]));
        return ids.map((id) => byId.get(id) ?? null);
      },
      { maxBatchSize },
    ),
    evaluations: new DataLoader(
      async (ids) => groupBy(ids, await store.evaluationsByRunIds(ids), (e) => e.runId),
      {
        maxBatchSize,
      },
    ),
    checkpoints: new DataLoader(
      async (ids) => groupBy(ids, await store.checkpointsByRunIds(ids), (c) => c.runId),
      {
        maxBatchSize,
      },
    ),
    artifacts: new DataLoader(
      async (ids) => groupBy(ids, await store.artifactListingsByRunIds(ids), (a) => a.runId),
      {
        maxBatchSize,
      },
    ),
    metricKeys: new DataLoader(
      async (ids) =>
        groupBy(ids, await store.metricKeysByRunIds(ids), (r) => r.runId).map((rows) =>
          rows.map((r) => r.key),
        ),
      { maxBatchSize },
    ),
    metricStats: new DataLoader(
      async (pairKeys) => {
        const pairs = pairKeys.map((k) => {
          const [runId, key] = k.split("\u0000");
          return { runId, key };
        });
        const rows = await store.metricStats(pairs);
        const byPair = new Map(rows.map((r) => [`${r.runId}\u0000${r.key}`, r]));
        return pairs.map(
          (p, i) =>
            byPair.get(pairKeys[i]) ?? {
              runId: p.runId,
              key: p.key,
              min: null,
              max: null,
              last: null,
              lastStep: null,
              count: 0,
            },
        );
      },
      { maxBatchSize: 1000 },
    ),
  };
}
