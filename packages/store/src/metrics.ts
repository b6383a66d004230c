import type { Db } from "./db.js";
import { notFound } from "./errors.js";
import { MetricWriter, type MetricWriterOptions, type NormalizedPoint } from "./metric-writer.js";
import {
  DEFAULT_MAX_POINTS,
  idSchema,
  metricPointsSchema,
  parse,
  readSeriesSchema,
  seriesKeysSchema,
  stepSchema,
} from "./schemas.js";
import { Params, pgCode, unique } from "./sql-util.js";
import type { MetricPoint, ReadSeriesOptions, Series, SeriesPoint } from "./types.js";

/** Rows per INSERT statement when writing metric points (keeps parameter arrays moderate). */
const INSERT_CHUNK = 5_000;

/** Metric series: batched idempotent writes, the run's keys and last step, and chart reads. */
export class MetricsRepo {
  private readonly writers = new Set<MetricWriter>();

  constructor(private readonly db: Db) {}

  /**
   * Writes metric points in one transaction. Idempotent: (run, key, step) is unique and a point
   * written again replaces the value (the last one wins within a call). For a training loop use
   * {@link metricWriter}, which batches.
   */
  async appendMetrics(runId: string, points: MetricPoint[]): Promise<void> {
    const id = parse(idSchema, runId, "run id", "runId");
    const v = parse(metricPointsSchema, points, "metric points", "points");
    const now = new Date();
    await this.writePoints(
      id,
      v.map((pt) => ({ key: pt.key, step: pt.step, value: pt.value, wallTime: pt.wallTime ?? now })),
    );
  }

  /**
   * A buffered writer for one run: flushes every `flushEvery` points or `flushIntervalMs`, and at
   * close(). store.close() closes writers still open.
   */
  metricWriter(runId: string, options: MetricWriterOptions = {}): MetricWriter {
    const id = parse(idSchema, runId, "run id", "runId");
    const writer = new MetricWriter(
      id,
      (pts) => this.writePoints(id, pts),
      options,
      () => this.writers.delete(writer),
    );
    this.writers.add(writer);
    return writer;
  }

  /** @internal Validated, normalized points -> one transaction of multi-row upserts. */
  private async writePoints(runId: string, points: NormalizedPoint[]): Promise<void> {
    if (!points.length) return;
    // ON CONFLICT DO UPDATE may not touch a row twice in one statement: keep the last per (key, step).
    const dedup = new Map<string, NormalizedPoint>();
    for (const pt of points) dedup.set(`${pt.key}\u0000${pt.step}`, pt);
    const all = [...dedup.values()];
    const keys = unique(all.map((pt) => pt.key));
    try {
      await this.db.transaction(async (tx) => {
        await tx.query(
          "INSERT INTO metric_keys (run_id, key) SELECT $1, k FROM unnest($2::text[]) AS k ON CONFLICT DO NOTHING",
          [runId, keys],
        );
        for (let i = 0; i < all.length; i += INSERT_CHUNK) {
          const chunk = all.slice(i, i + INSERT_CHUNK);
          await tx.query(
            `INSERT INTO metric_points (run_id, key, step, value, wall_time)
             SELECT $1, t.key, t.step, t.value, t.wall_time
             FROM unnest($2::text[], $3::bigint[], $4::float8[], $5::timestamptz[]) AS t(key, step, value, wall_time)
             ON CONFLICT (run_id, key, step) DO UPDATE SET value = EXCLUDED.value, wall_time = EXCLUDED.wall_time`,
            [
              runId,
              chunk.map((pt) => pt.key),
              chunk.map((pt) => pt.step),
              chunk.map((pt) => pt.value),
              chunk.map((pt) => pt.wallTime),
            ],
          );
        }
      });
    } catch (err) {
      if (pgCode(err) === "23503") throw notFound(runId, "runId");
      throw err;
    }
  }

  /** The metric keys a run has points for, sorted. */
  async metricKeys(runId: string): Promise<string[]> {
    const id = parse(idSchema, runId, "run id", "runId");
    const rows = await this.db.query<{ key: string }>(
      "SELECT key FROM metric_keys WHERE run_id = $1 ORDER BY key",
      [id],
    );
    return rows.map((r) => r.key);
  }

  /** Highest step written for any key of the run, or null if none (resume starts after it). */
  async lastMetricStep(runId: string): Promise<number | null> {
    const id = parse(idSchema, runId, "run id", "runId");
    // One index probe per key instead of scanning every point.
    const rows = await this.db.query<{ step: number | string | null }>(
      `SELECT max(last.step) AS step FROM metric_keys k
       CROSS JOIN LATERAL (SELECT p.step FROM metric_points p WHERE p.run_id = k.run_id AND p.key = k.key
                           ORDER BY p.step DESC LIMIT 1) AS last
       WHERE k.run_id = $1`,
      [id],
    );
    const step = rows[0]?.step;
    return step === null || step === undefined ? null : Number(step);
  }

  /**
   * Resume support: drops points with step > `step` (written after the checkpoint being resumed
   * from), so the replayed steps do not leave stale values behind. Returns how many were deleted.
   */
  async deleteMetricsAfter(runId: string, step: number): Promise<number> {
    const id = parse(idSchema, runId, "run id", "runId");
    const s = parse(stepSchema, step, "step", "step");
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<{ n: number }>(
        `WITH d AS (DELETE FROM metric_points WHERE run_id = $1 AND step > $2 RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
        [id, s],
      );
      await tx.query(
        `DELETE FROM metric_keys k WHERE k.run_id = $1
           AND NOT EXISTS (SELECT 1 FROM metric_points p WHERE p.run_id = k.run_id AND p.key = k.key)`,
        [id],
      );
      return Number(rows[0].n);
    });
  }

  /**
   * Chart data for some keys of a run, at most `maxPoints` per key. With more points in range
   * than that, the x range is cut into maxPoints equal buckets IN SQL and each bucket returns its
   * mean (or last) y plus min, max and count, so spikes and the global extremes survive (unlike
   * every-k-th sampling). With fewer, the raw points come back. Keys without data give empty
   * series. Results follow the order of `keys`.
   */
  async readSeries(runId: string, keys: string[], options: ReadSeriesOptions = {}): Promise<Series[]> {
    const id = parse(idSchema, runId, "run id", "runId");
    const ks = unique(parse(seriesKeysSchema, keys, "keys", "keys"));
    const v = parse(readSeriesSchema, options, "readSeries options");
    const maxPoints = v.maxPoints ?? DEFAULT_MAX_POINTS;
    const xAxis = v.xAxis ?? "step";
    const yMode = v.y ?? "mean";
    const from = v.range?.from ?? null;
    const to = v.range?.to ?? null;

    const p = new Params();
    const pRun = p.add(id);
    const pKeys = p.add(ks);
    let xExpr: string;
    let originCte = "";
    let originJoin = "";
    const stepClauses: string[] = [];
    if (xAxis === "step") {
      xExpr = "p.step::float8";
      // Let the primary key bound the step range too.
      if (from !== null) stepClauses.push(`p.step >= ${p.add(Math.max(0, Math.ceil(from)))}::bigint`);
      if (to !== null) stepClauses.push(`p.step <= ${p.add(Math.max(-1, Math.floor(to)))}::bigint`);
    } else if (xAxis === "wall_time") {
      xExpr = "extract(epoch FROM p.wall_time)::float8 * 1000";
    } else {
      // Origin: the run's earliest first-step time over all its keys, so every key shares it.
      // MATERIALIZED: otherwise the planner inlines it and re-runs it for every point.
      originCte = `origin AS MATERIALIZED (
        SELECT min(fp.wall_time) AS t0 FROM metric_keys k
        CROSS JOIN LATERAL (SELECT q.wall_time FROM metric_points q WHERE q.run_id = k.run_id AND q.key = k.key
                            ORDER BY q.step LIMIT 1) AS fp
        WHERE k.run_id = ${pRun}),`;
      originJoin = "CROSS JOIN origin";
      xExpr = "extract(epoch FROM p.wall_time - origin.t0)::float8";
    }
    const pFrom = p.add(from);
    const pTo = p.add(to);
    const pMax = p.add(maxPoints);
    const bucketX = yMode === "mean" ? "avg(x)" : "max(x)";
    const bucketY = yMode === "mean" ? "avg(value)" : "(array_agg(value ORDER BY x DESC, step DESC))[1]";
    const rows = await this.db.query<{
      key: string;
      x: number;
      y: number;
      lo: number;
      hi: number;
      n: number;
      total: number;
    }>(
      `WITH ${originCte}
       f AS (
         SELECT * FROM (
           SELECT p.key, p.step, ${xExpr} AS x, p.value
           FROM metric_points p ${originJoin}
           WHERE p.run_id = ${pRun} AND p.key = ANY(${pKeys}::text[]) ${stepClauses.map((c) => `AND ${c}`).join(" ")}
         ) AS pts
         WHERE (${pFrom}::float8 IS NULL OR x >= ${pFrom}::float8) AND (${pTo}::float8 IS NULL OR x <= ${pTo}::float8)
       ),
       s AS (SELECT key, count(*)::int AS total, min(x) AS x0, max(x) AS x1 FROM f GROUP BY key)
       SELECT f.key, f.x, f.value AS y, f.value AS lo, f.value AS hi, 1 AS n, s.total
       FROM f JOIN s USING (key) WHERE s.total <= ${pMax}::int
       UNION ALL
       SELECT key, ${bucketX} AS x, ${bucketY} AS y, min(value) AS lo, max(value) AS hi, count(*)::int AS n,
              min(total) AS total
       FROM (
         SELECT f.key, f.step, f.x, f.value, s.total,
                LEAST(COALESCE(floor((f.x - s.x0) / NULLIF(s.x1 - s.x0, 0) * ${pMax}::int)::int, 0), ${pMax}::int - 1) AS b
         FROM f JOIN s USING (key) WHERE s.total > ${pMax}::int
       ) AS bucketed
       GROUP BY key, b
       ORDER BY 1, 2`,
      p.values,
    );
    const byKey = new Map<string, Series>(
      ks.map((k) => [k, { key: k, points: [], total: 0, downsampled: false }]),
    );
    for (const r of rows) {
      const series = byKey.get(r.key);
      if (!series) continue;
      const point: SeriesPoint = {
        x: Number(r.x),
        y: Number(r.y),
        min: Number(r.lo),
        max: Number(r.hi),
        count: Number(r.n),
      };
      series.points.push(point);
      series.total = Number(r.total);
      series.downsampled = series.total > maxPoints;
    }
    return ks.map((k) => byKey.get(k)!);
  }

  /** Flushes and closes every writer still open; throws the first failure after trying all. */
  async closeWriters(): Promise<void> {
    const errors: unknown[] = [];
    for (const w of [...this.writers]) {
      try {
        await w.close();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length) throw errors[0];
  }
}
