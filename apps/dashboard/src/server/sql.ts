/**
 * Batched reads the store's API does not offer yet, run through `store.db` (its documented hatch
 * for custom queries). Each takes many run ids and answers in ONE statement, which is what the
 * DataLoaders in loaders.ts need against N+1: a page of 200 runs asking for evaluations costs one
 * query, not 200. Candidates to move into @selfsup/store (see the dashboard README).
 */
import type { Artifact, Checkpoint, Db, Evaluation, Run, RunStatus } from "@selfsup/store";

type Row = Record<string, unknown>;

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const RUN_COLUMNS = `id, name, method, family, backbone, dataset, backend, host, config, status, error, tags,
  notes, summary, parent_id, resumed_from, created_at, started_at, finished_at, heartbeat_at`;

export function toRun(r: Row): Run {
  return {
    id: String(r.id),
    name: String(r.name),
    method: String(r.method),
    family: str(r.family),
    backbone: str(r.backbone),
    dataset: str(r.dataset),
    backend: str(r.backend),
    host: str(r.host),
    config: (r.config ?? {}) as Record<string, unknown>,
    status: r.status as RunStatus,
    error: str(r.error),
    tags: (r.tags ?? []) as string[],
    notes: str(r.notes),
    summary: (r.summary ?? {}) as Record<string, number>,
    parentId: str(r.parent_id),
    resumedFrom: str(r.resumed_from),
    createdAt: date(r.created_at),
    startedAt: dateOrNull(r.started_at),
    finishedAt: dateOrNull(r.finished_at),
    heartbeatAt: dateOrNull(r.heartbeat_at),
  };
}

export async function runsByIds(db: Db, ids: readonly string[]): Promise<Run[]> {
  const rows = await db.query(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ANY($1::text[])`, [[...ids]]);
  return rows.map(toRun);
}

export async function evaluationsByRunIds(db: Db, ids: readonly string[]): Promise<Evaluation[]> {
  const rows = await db.query(
    `SELECT id, run_id, protocol, labels_per_class, seed, metric, value, created_at FROM evaluations
     WHERE run_id = ANY($1::text[]) ORDER BY protocol, labels_per_class NULLS LAST, metric, seed`,
    [[...ids]],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    runId: String(r.run_id),
    protocol: String(r.protocol),
    labelsPerClass: num(r.labels_per_class),
    seed: Number(r.seed),
    metric: String(r.metric),
    value: Number(r.value),
    createdAt: date(r.created_at),
  }));
}

export async function checkpointsByRunIds(db: Db, ids: readonly string[]): Promise<Checkpoint[]> {
  const rows = await db.query(
    `SELECT id, run_id, kind, path, step, checksum, created_at FROM checkpoints
     WHERE run_id = ANY($1::text[]) ORDER BY step, id`,
    [[...ids]],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    runId: String(r.run_id),
    kind: r.kind as "latest" | "best",
    path: String(r.path),
    step: Number(r.step),
    checksum: str(r.checksum),
    createdAt: date(r.created_at),
  }));
}

/** Artifact listings without their bytes (those are served by /api/artifacts or Artifact.dataUrl). */
export async function artifactsByRunIds(db: Db, ids: readonly string[]): Promise<Artifact[]> {
  const rows = await db.query(
    `SELECT id, run_id, kind, name, mime, step, data,
            COALESCE(octet_length(bytes), octet_length(data::text)) AS size, created_at
     FROM artifacts WHERE run_id = ANY($1::text[]) ORDER BY kind, name`,
    [[...ids]],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    runId: String(r.run_id),
    kind: String(r.kind),
    name: String(r.name),
    mime: String(r.mime),
    step: num(r.step),
    bytes: null,
    data: r.data ?? null,
    size: Number(r.size ?? 0),
    createdAt: date(r.created_at),
  }));
}

export async function metricKeysByRunIds(
  db: Db,
  ids: readonly string[],
): Promise<Array<{ runId: string; key: string }>> {
  const rows = await db.query(
    "SELECT run_id, key FROM metric_series WHERE run_id = ANY($1::text[]) ORDER BY run_id, key",
    [[...ids]],
  );
  return rows.map((r) => ({ runId: String(r.run_id), key: String(r.key) }));
}

export interface MetricStatsRow {
  runId: string;
  key: string;
  min: number | null;
  max: number | null;
  last: number | null;
  lastStep: number | null;
  count: number;
}

/** min / max / count over each (run, key) series and its last point, for many pairs at once. */
export async function metricStats(
  db: Db,
  pairs: ReadonlyArray<{ runId: string; key: string }>,
): Promise<MetricStatsRow[]> {
  if (pairs.length === 0) return [];
  const rows = await db.query(
    `SELECT k.run_id, k.key, agg.lo, agg.hi, agg.n, last.value AS last, last.step AS last_step
     FROM unnest($1::text[], $2::text[]) AS k(run_id, key)
     LEFT JOIN metric_series s ON s.run_id = k.run_id AND s.key = k.key
     CROSS JOIN LATERAL (SELECT min(p.value) AS lo, max(p.value) AS hi, count(*)::int AS n
                         FROM metric_points p WHERE p.series_id = s.id) AS agg
     LEFT JOIN LATERAL (SELECT p.value, p.step FROM metric_points p WHERE p.series_id = s.id
                        ORDER BY p.step DESC LIMIT 1) AS last ON true`,
    [pairs.map((p) => p.runId), pairs.map((p) => p.key)],
  );
  return rows.map((r) => ({
    runId: String(r.run_id),
    key: String(r.key),
    min: num(r.lo),
    max: num(r.hi),
    last: num(r.last),
    lastStep: num(r.last_step),
    count: Number(r.n ?? 0),
  }));
}

export interface FacetRow {
  value: string;
  count: number;
}

export interface FacetsResult {
  methods: FacetRow[];
  families: FacetRow[];
  datasets: FacetRow[];
  backbones: FacetRow[];
  statuses: FacetRow[];
  tags: FacetRow[];
  summaryKeys: string[];
  metricKeys: string[];
}

/**
 * Distinct values with counts (top 200 each; one scan of runs via GROUPING SETS, one of the tags),
 * and the summary and metric keys of the 1,000 most recent runs.
 */
export async function facets(db: Db): Promise<FacetsResult> {
  const out: Partial<FacetsResult> = {};
  const grouped = await db.query<{ col: string; value: string; n: number }>(
    `SELECT CASE WHEN GROUPING(method) = 0 THEN 'methods' WHEN GROUPING(family) = 0 THEN 'families'
                 WHEN GROUPING(dataset) = 0 THEN 'datasets' WHEN GROUPING(backbone) = 0 THEN 'backbones'
                 ELSE 'statuses' END AS col,
            COALESCE(method, family, dataset, backbone, status) AS value, count(*)::int AS n
     FROM runs
     GROUP BY GROUPING SETS ((method), (family), (dataset), (backbone), (status))`,
  );
  for (const name of ["methods", "families", "datasets", "backbones", "statuses"] as const) {
    out[name] = grouped
      .filter((r) => r.col === name && r.value !== null)
      .map((r) => ({ value: String(r.value), count: Number(r.n) }))
      .sort((x, y) => y.count - x.count || x.value.localeCompare(y.value))
      .slice(0, 200);
  }
  const tags = await db.query(
    `SELECT t AS value, count(*)::int AS n FROM runs CROSS JOIN LATERAL unnest(tags) AS t
     GROUP BY t ORDER BY n DESC, t LIMIT 200`,
  );
  out.tags = tags.map((r) => ({ value: String(r.value), count: Number(r.n) }));
  const summaryKeys = await db.query(
    `SELECT DISTINCT k FROM (SELECT summary FROM runs ORDER BY created_at DESC LIMIT 1000) AS recent
     CROSS JOIN LATERAL jsonb_object_keys(recent.summary) AS k ORDER BY k LIMIT 500`,
  );
  out.summaryKeys = summaryKeys.map((r) => String(r.k));
  const metricKeys = await db.query(
    `SELECT DISTINCT mk.key FROM (SELECT id FROM runs ORDER BY created_at DESC LIMIT 1000) AS recent
     JOIN metric_series mk ON mk.run_id = recent.id ORDER BY mk.key LIMIT 500`,
  );
  out.metricKeys = metricKeys.map((r) => String(r.key));
  return out as FacetsResult;
}

export interface LeaderboardScopeRow {
  dataset: string;
  protocol: string;
  metric: string;
  labelsPerClass: Array<number | null>;
  runs: number;
}

export async function leaderboardScopes(db: Db): Promise<LeaderboardScopeRow[]> {
  const rows = await db.query(
    `SELECT r.dataset, e.protocol, e.metric,
            array_agg(DISTINCT e.labels_per_class) AS labels, count(DISTINCT e.run_id)::int AS n
     FROM evaluations e JOIN runs r ON r.id = e.run_id
     WHERE r.dataset IS NOT NULL
     GROUP BY r.dataset, e.protocol, e.metric
     ORDER BY r.dataset, e.protocol, e.metric
     LIMIT 500`,
  );
  return rows.map((r) => ({
    dataset: String(r.dataset),
    protocol: String(r.protocol),
    metric: String(r.metric),
    labelsPerClass: ((r.labels ?? []) as Array<number | null>)
      .map((v) => (v === null ? null : Number(v)))
      .sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b)),
    runs: Number(r.n),
  }));
}
