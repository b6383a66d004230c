import type { Db } from "./db.js";
import { notFound } from "./errors.js";
import { MetricWriter, type MetricWriterOptions, type NormalizedPoint } from "./metric-writer.js";
import {
  DEFAULT_MAX_POINTS,
  idSchema,
  keySchema,
  metricPointsSchema,
  parse,
  readPointsSchema,
  readSeriesSchema,
  seriesKeysSchema,
  stepSchema,
} from "./schemas.js";
import { decompose, levelFor, rebuildAllLevels, refreshLevels, truncateLevels } from "./series-levels.js";
import { Params, pgCode, unique } from "./sql-util.js";
import type {
  MetricPoint,
  RawPoint,
  ReadPointsOptions,
  ReadSeriesOptions,
  Series,
  SeriesPoint,
} from "./types.js";

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
             SELECT $1, t.key, t.step, t.value, to_timestamp(t.ms / 1000)
             FROM unnest($2::text[], $3::bigint[], $4::float8[], $5::float8[]) AS t(key, step, value, ms)
             ON CONFLICT (run_id, key, step) DO UPDATE SET value = EXCLUDED.value, wall_time = EXCLUDED.wall_time`,
            [
              runId,
              chunk.map((pt) => pt.key),
              chunk.map((pt) => pt.step),
              chunk.map((pt) => pt.value),
              // Milliseconds, not Dates: the drivers serialize numbers far faster than timestamps.
              chunk.map((pt) => pt.wallTime.getTime()),
            ],
          );
        }
        await refreshLevels(tx, runId, all);
      });
    } catch (err) {
      if (pgCode(err) === "23503") throw notFound(runId, "runId");
      throw err;
    }
  }

  /**
   * Rebuilds the run's series levels from its points, in one transaction. Only needed after
   * writing metric_points directly (bulk imports); the store's own writes keep them current.
   */
  async rebuildSeriesLevels(runId: string): Promise<void> {
    const id = parse(idSchema, runId, "run id", "runId");
    await this.db.transaction((tx) => rebuildAllLevels(tx, id));
  }

  /**
   * Raw points of one key in step order, a page at a time (`afterStep` = the last step of the
   * previous page): what an export streams. Index range scan on the primary key.
   */
  async readPoints(runId: string, key: string, options: ReadPointsOptions = {}): Promise<RawPoint[]> {
    const id = parse(idSchema, runId, "run id", "runId");
    const k = parse(keySchema, key, "key", "key");
    const v = parse(readPointsSchema, options, "readPoints options");
    const rows = await this.db.query<{ step: number | string; value: number; ms: number }>(
      `SELECT step, value, extract(epoch FROM wall_time)::float8 * 1000 AS ms FROM metric_points
       WHERE run_id = $1 AND key = $2 AND step > $3 ORDER BY step LIMIT $4`,
      [id, k, v.afterStep ?? -1, v.limit ?? 10_000],
    );
    return rows.map((r) => ({
      step: Number(r.step),
      value: Number(r.value),
      wallTime: new Date(Math.round(Number(r.ms))),
    }));
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
      await truncateLevels(tx, id, s);
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
   * than that, the range is cut into at most maxPoints buckets and each returns its mean (or
   * last) y plus the exact min, max and count of its points, so spikes and the global extremes
   * survive (unlike every-k-th sampling). On the step axis the buckets are built from the pyramid
   * levels (series-levels.ts; bucket edges fall on the edges of the blocks read), so the cost
   * does not grow with the series' length; the wall-time axes aggregate the points in range. With
   * fewer points than maxPoints, the raw points come back. Keys without data give empty series.
   * Results follow the order of `keys`.
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
    if (xAxis === "step") {
      const lo = from === null ? 0 : Math.max(0, Math.ceil(from));
      const hi = to === null ? Number.MAX_SAFE_INTEGER : Math.floor(to);
      const out: Series[] = [];
      for (const key of ks) out.push(await this.readStepSeries(id, key, lo, hi, maxPoints, yMode));
      return out;
    }
    return this.readTimeSeries(id, ks, xAxis, yMode, from, to, maxPoints);
  }

  /**
   * One key on the step axis, through the pyramid levels: find the first and last step in range
   * (two index probes), cut that span into whole blocks (the coarsest level giving maxPoints
   * buckets in the middle, finer levels and then raw points at the two edges), and bucket those
   * pieces in SQL by where they start. Every bucket is a union of whole pieces, so its min, max
   * and count are exact; it reads about maxPoints..16 * maxPoints level rows plus fewer than 32
   * rows per finer level, whatever the series' length.
   */
  private async readStepSeries(
    runId: string,
    key: string,
    lo: number,
    hi: number,
    maxPoints: number,
    yMode: "mean" | "last",
  ): Promise<Series> {
    const empty: Series = { key, points: [], total: 0, downsampled: false };
    if (lo > hi) return empty;
    const ext = await this.db.query<{ x0: number | string | null; x1: number | string | null }>(
      `SELECT (SELECT step FROM metric_points WHERE run_id = $1 AND key = $2 AND step >= $3 AND step <= $4
               ORDER BY step LIMIT 1) AS x0,
              (SELECT step FROM metric_points WHERE run_id = $1 AND key = $2 AND step >= $3 AND step <= $4
               ORDER BY step DESC LIMIT 1) AS x1`,
      [runId, key, lo, hi],
    );
    if (ext[0]?.x0 === null || ext[0]?.x0 === undefined) return empty;
    const x0 = Number(ext[0].x0);
    const x1 = Number(ext[0].x1);
    const level = levelFor(x1 - x0 + 1, maxPoints);
    const p = new Params();
    const pRun = p.add(runId);
    const pKey = p.add(key);
    const pieces: string[] = [];
    for (const { level: l, ranges } of decompose(x0, x1, level)) {
      const within = (col: string) =>
        ranges.map(([a, b]) => `${col} BETWEEN ${p.add(a)}::bigint AND ${p.add(b)}::bigint`).join(" OR ");
      pieces.push(
        l === 0
          ? `SELECT step AS s0, step AS s1, 1 AS n, value AS lo, value AS hi, value AS vsum, step::float8 AS ssum,
                    value AS vlast
             FROM metric_points WHERE run_id = ${pRun} AND key = ${pKey} AND (${within("step")})`
          : `SELECT first_step AS s0, last_step AS s1, n, vmin AS lo, vmax AS hi, vsum, ssum, last_value AS vlast
             FROM metric_levels WHERE run_id = ${pRun} AND key = ${pKey} AND level = ${l} AND (${within("block")})`,
      );
    }
    const pX0 = p.add(x0);
    const pSpan = p.add(x1 - x0);
    const pMax = p.add(maxPoints);
    const rows = await this.db.query<Record<string, number | string>>(
      `SELECT sum(n)::float8 AS n, min(lo) AS lo, max(hi) AS hi, sum(vsum) AS vsum, sum(ssum) AS ssum,
              max(s1)::float8 AS s1, (max(ARRAY[s1::float8, vlast]))[2] AS vlast
       FROM (
         SELECT *, LEAST(COALESCE(floor((s0 - ${pX0}::bigint)::float8 / NULLIF(${pSpan}::float8, 0) * ${pMax}::int)::int, 0),
                         ${pMax}::int - 1) AS b
         FROM (${pieces.join(" UNION ALL ")}) AS pieces
       ) AS bucketed
       GROUP BY b ORDER BY b`,
      p.values,
    );
    const total = rows.reduce((a, r) => a + Number(r.n), 0);
    if (total <= maxPoints) {
      const raw = await this.db.query<{ step: number | string; value: number }>(
        `SELECT step, value FROM metric_points WHERE run_id = $1 AND key = $2 AND step >= $3 AND step <= $4
         ORDER BY step`,
        [runId, key, x0, x1],
      );
      return {
        key,
        total: raw.length,
        downsampled: false,
        points: raw.map((r) => {
          const y = Number(r.value);
          return { x: Number(r.step), y, min: y, max: y, count: 1 };
        }),
      };
    }
    const points: SeriesPoint[] = rows.map((r) => {
      const n = Number(r.n);
      return {
        x: yMode === "mean" ? Number(r.ssum) / n : Number(r.s1),
        y: yMode === "mean" ? Number(r.vsum) / n : Number(r.vlast),
        min: Number(r.lo),
        max: Number(r.hi),
        count: n,
      };
    });
    return { key, total, downsampled: true, points };
  }

  /** Keys on a wall-time axis: every point in range, bucketed in SQL (no levels yet for time). */
  private async readTimeSeries(
    id: string,
    ks: string[],
    xAxis: "wall_time" | "relative_time",
    yMode: "mean" | "last",
    from: number | null,
    to: number | null,
    maxPoints: number,
  ): Promise<Series[]> {
    const p = new Params();
    const pRun = p.add(id);
    const pKeys = p.add(ks);
    let xExpr: string;
    let originCte = "";
    let originJoin = "";
    if (xAxis === "wall_time") {
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
           WHERE p.run_id = ${pRun} AND p.key = ANY(${pKeys}::text[])
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
