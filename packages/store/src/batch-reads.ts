/**
 * Batched reads: each takes many run ids and answers in ONE statement, which is what a GraphQL
 * server's DataLoaders need against N+1 (a page of 200 runs asking for evaluations costs one
 * query, not 200), plus the dashboard's facet and leaderboard-scope summaries. Moved here from the
 * dashboard (issue 28) so that one package owns the schema and every query on it.
 */
import type { Db } from "./db-types.js";
import { StoreError } from "./errors.js";
import { RUN_COLUMNS, toArtifact, toCheckpoint, toEvaluation, toRun } from "./rows.js";
import type { Artifact, Checkpoint, Evaluation, Run } from "./types.js";

/** Most ids (or pairs) one batched read takes. */
export const MAX_BATCH_IDS = 1_000;

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function ids(list: readonly string[], what: string): string[] {
  if (!Array.isArray(list) || list.length > MAX_BATCH_IDS || list.some((id) => typeof id !== "string")) {
    throw new StoreError(
      "invalid_input",
      `${what}: must be at most ${MAX_BATCH_IDS} run ids (strings)`,
      what,
    );
  }
  return [...list];
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

export interface LeaderboardScopeRow {
  dataset: string;
  protocol: string;
  metric: string;
  labelsPerClass: Array<number | null>;
  runs: number;
}

export class BatchReadsRepo {
  constructor(private readonly db: Db) {}

  /** The runs with these ids (missing ones are simply absent), in no particular order. */
  async runsByIds(runIds: readonly string[]): Promise<Run[]> {
    const rows = await this.db.query(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ANY($1::text[])`, [
      ids(runIds, "ids"),
    ]);
    return rows.map(toRun);
  }

  async evaluationsByRunIds(runIds: readonly string[]): Promise<Evaluation[]> {
    const rows = await this.db.query(
      `SELECT id, run_id, protocol, labels_per_class, seed, metric, value, created_at FROM evaluations
       WHERE run_id = ANY($1::text[]) ORDER BY protocol, labels_per_class NULLS LAST, metric, seed`,
      [ids(runIds, "runIds")],
    );
    return rows.map(toEvaluation);
  }

  async checkpointsByRunIds(runIds: readonly string[]): Promise<Checkpoint[]> {
    const rows = await this.db.query(
      `SELECT id, run_id, kind, path, step, checksum, created_at FROM checkpoints
       WHERE run_id = ANY($1::text[]) ORDER BY step, id`,
      [ids(runIds, "runIds")],
    );
    return rows.map(toCheckpoint);
  }

  /** Artifact listings without their bytes (`bytes` is null; `data` holds a JSON payload). */
  async artifactListingsByRunIds(runIds: readonly string[]): Promise<Artifact[]> {
    const rows = await this.db.query(
      `SELECT id, run_id, kind, name, mime, step, NULL::bytea AS bytes, data,
              COALESCE(octet_length(bytes), octet_length(data::text)) AS size, created_at
       FROM artifacts WHERE run_id = ANY($1::text[]) ORDER BY kind, name`,
      [ids(runIds, "runIds")],
    );
    return rows.map((r) => toArtifact({ ...r, size: r.size ?? 0 }));
  }

  async metricKeysByRunIds(runIds: readonly string[]): Promise<Array<{ runId: string; key: string }>> {
    const rows = await this.db.query(
      "SELECT run_id, key FROM metric_series WHERE run_id = ANY($1::text[]) ORDER BY run_id, key",
      [ids(runIds, "runIds")],
    );
    return rows.map((r) => ({ runId: String(r.run_id), key: String(r.key) }));
  }

  /** min / max / count over each (run, key) series and its last point, for many pairs at once. */
  async metricStats(pairs: ReadonlyArray<{ runId: string; key: string }>): Promise<MetricStatsRow[]> {
    if (pairs.length === 0) return [];
    if (pairs.length > MAX_BATCH_IDS)
      throw new StoreError("invalid_input", `pairs: at most ${MAX_BATCH_IDS} (run, key) pairs`, "pairs");
    const rows = await this.db.query(
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

  /**
   * Distinct values with counts (top 200 each; one scan of runs via GROUPING SETS, one of the tags),
   * and the summary and metric keys of the 1,000 most recent runs.
   */
  async facets(): Promise<FacetsResult> {
    const out: Partial<FacetsResult> = {};
    const grouped = await this.db.query<{ col: string; value: string; n: number }>(
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
    const tags = await this.db.query(
      `SELECT t AS value, count(*)::int AS n FROM runs CROSS JOIN LATERAL unnest(tags) AS t
       GROUP BY t ORDER BY n DESC, t LIMIT 200`,
    );
    out.tags = tags.map((r) => ({ value: String(r.value), count: Number(r.n) }));
    const summaryKeys = await this.db.query(
      `SELECT DISTINCT k FROM (SELECT summary FROM runs ORDER BY created_at DESC LIMIT 1000) AS recent
       CROSS JOIN LATERAL jsonb_object_keys(recent.summary) AS k ORDER BY k LIMIT 500`,
    );
    out.summaryKeys = summaryKeys.map((r) => String(r.k));
    const metricKeys = await this.db.query(
      `SELECT DISTINCT mk.key FROM (SELECT id FROM runs ORDER BY created_at DESC LIMIT 1000) AS recent
       JOIN metric_series mk ON mk.run_id = recent.id ORDER BY mk.key LIMIT 500`,
    );
    out.metricKeys = metricKeys.map((r) => String(r.key));
    return out as FacetsResult;
  }

  /** The (dataset, protocol, metric) combinations that have evaluations (at most 500). */
  async leaderboardScopes(): Promise<LeaderboardScopeRow[]> {
    const rows = await this.db.query(
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
}
