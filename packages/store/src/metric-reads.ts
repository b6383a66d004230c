import type { Db } from "./db-types.js";
import {
  DEFAULT_MAX_POINTS,
  idSchema,
  keySchema,
  parse,
  readPointsSchema,
  readSeriesSchema,
  seriesKeysSchema,
} from "./schemas.js";
import { decompose, levelFor } from "./series-levels.js";
import { Params, unique } from "./sql-util.js";
import { TIME_LEVEL_SIZE, TM } from "./time-levels.js";
import type { RawPoint, ReadPointsOptions, ReadSeriesOptions, Series, SeriesPoint } from "./types.js";

/** Beyond any Date (JS dates reach 8.64e15 ms): the open ends of a time range. */
const MAX_MS = 8.64e15 + 1;

/**
 * Metric reads: raw points, a run's keys and last step, and chart series downsampled through the
 * pyramid levels (step axis) or aggregated over wall time. Writes are in metric-writes.ts.
 */
export class MetricReadsRepo {
  constructor(private readonly db: Db) {}

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
       WHERE series_id = (SELECT id FROM metric_series WHERE run_id = $1 AND key = $2) AND step > $3
       ORDER BY step LIMIT $4`,
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
      "SELECT key FROM metric_series WHERE run_id = $1 ORDER BY key",
      [id],
    );
    return rows.map((r) => r.key);
  }

  /** Highest step written for any key of the run, or null if none (resume starts after it). */
  async lastMetricStep(runId: string): Promise<number | null> {
    const id = parse(idSchema, runId, "run id", "runId");
    // One index probe per key instead of scanning every point.
    const rows = await this.db.query<{ step: number | string | null }>(
      `SELECT max(last.step) AS step FROM metric_series s
       CROSS JOIN LATERAL (SELECT p.step FROM metric_points p WHERE p.series_id = s.id
                           ORDER BY p.step DESC LIMIT 1) AS last
       WHERE s.run_id = $1`,
      [id],
    );
    const step = rows[0]?.step;
    return step === null || step === undefined ? null : Number(step);
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
    const ext = await this.db.query<{
      id: number;
      x0: number | string | null;
      x1: number | string | null;
    }>(
      `SELECT s.id,
              (SELECT step FROM metric_points WHERE series_id = s.id AND step >= $3 AND step <= $4
               ORDER BY step LIMIT 1) AS x0,
              (SELECT step FROM metric_points WHERE series_id = s.id AND step >= $3 AND step <= $4
               ORDER BY step DESC LIMIT 1) AS x1
       FROM metric_series s WHERE s.run_id = $1 AND s.key = $2`,
      [runId, key, lo, hi],
    );
    if (ext[0]?.x0 === null || ext[0]?.x0 === undefined) return empty;
    const series = Number(ext[0].id);
    const x0 = Number(ext[0].x0);
    const x1 = Number(ext[0].x1);
    const level = levelFor(x1 - x0 + 1, maxPoints);
    const p = new Params();
    const pSeries = p.add(series);
    const pieces: string[] = [];
    for (const { level: l, ranges } of decompose(x0, x1, level)) {
      const within = (col: string) =>
        ranges.map(([a, b]) => `${col} BETWEEN ${p.add(a)}::bigint AND ${p.add(b)}::bigint`).join(" OR ");
      pieces.push(
        l === 0
          ? `SELECT step AS s0, step AS s1, 1 AS n, value AS lo, value AS hi, value AS vsum, step::float8 AS ssum,
                    value AS vlast
             FROM metric_points WHERE series_id = ${pSeries}::int AND (${within("step")})`
          : `SELECT first_step AS s0, last_step AS s1, n, vmin AS lo, vmax AS hi, vsum, ssum, last_value AS vlast
             FROM metric_levels WHERE series_id = ${pSeries}::int AND level = ${l} AND (${within("block")})`,
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
        `SELECT step, value FROM metric_points WHERE series_id = $1 AND step >= $2 AND step <= $3
         ORDER BY step`,
        [series, x0, x1],
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

  /**
   * Keys on a wall-time axis (x in ms since the epoch) or relative-time axis (x in seconds since
   * the run's origin: the earliest first-step time over its keys), through the time levels.
   */
  private async readTimeSeries(
    id: string,
    ks: string[],
    xAxis: "wall_time" | "relative_time",
    yMode: "mean" | "last",
    from: number | null,
    to: number | null,
    maxPoints: number,
  ): Promise<Series[]> {
    let origin = 0;
    const scale = xAxis === "relative_time" ? 1000 : 1;
    if (xAxis === "relative_time") {
      const rows = await this.db.query<{ t0: number | null }>(
        `SELECT min(fp.tm) AS t0 FROM metric_series s
         CROSS JOIN LATERAL (SELECT ${TM} AS tm FROM metric_points p WHERE p.series_id = s.id
                             ORDER BY p.step LIMIT 1) AS fp
         WHERE s.run_id = $1`,
        [id],
      );
      if (rows[0]?.t0 === null || rows[0]?.t0 === undefined)
        return ks.map((key) => ({ key, points: [], total: 0, downsampled: false }));
      origin = Number(rows[0].t0);
    }
    const toX = (tm: number) => (tm - origin) / scale;
    // The whole-ms range [lo, hi] of times whose x lies in [from, to].
    let lo = -MAX_MS;
    let hi = MAX_MS;
    if (from !== null) {
      lo = Math.ceil(origin + from * scale);
      while (toX(lo) < from) lo++;
      while (toX(lo - 1) >= from) lo--;
    }
    if (to !== null) {
      hi = Math.floor(origin + to * scale);
      while (toX(hi) > to) hi--;
      while (toX(hi + 1) <= to) hi++;
    }
    const out: Series[] = [];
    for (const key of ks) out.push(await this.readTimeKey(id, key, lo, hi, maxPoints, yMode, toX));
    return out;
  }

  /**
   * One key over times [lo, hi] (ms): the exact first and last time in range (level-1 blocks, raw
   * points only inside the two edge blocks), then whole time blocks bucketed as on the step axis.
   * A raw read of a stretch of time finds its points by the step range its level-1 blocks record.
   */
  private async readTimeKey(
    runId: string,
    key: string,
    lo: number,
    hi: number,
    maxPoints: number,
    yMode: "mean" | "last",
    toX: (tm: number) => number,
  ): Promise<Series> {
    const empty: Series = { key, points: [], total: 0, downsampled: false };
    if (lo > hi) return empty;
    const found = await this.db.query<{ id: number }>(
      "SELECT id FROM metric_series WHERE run_id = $1 AND key = $2",
      [runId, key],
    );
    if (!found.length) return empty;
    const series = Number(found[0].id);
    const rawIn = (blockLo: string, blockHi: string) =>
      `SELECT q.step, q.value, q.tm
       FROM (SELECT min(smin) AS s0, max(smax) AS s1 FROM metric_time_levels
             WHERE series_id = $1 AND level = 1 AND block BETWEEN ${blockLo} AND ${blockHi}) AS r
       CROSS JOIN LATERAL (SELECT p.step, p.value, ${TM} AS tm FROM metric_points p
                           WHERE p.series_id = $1 AND p.step BETWEEN r.s0 AND r.s1) AS q`;
    const bLo = Math.floor(lo / 1000);
    const bHi = Math.floor(hi / 1000);
    const ext = await this.db.query<{ x0: number | null; x1: number | null }>(
      `SELECT LEAST((SELECT min(e.tm) FROM (${rawIn("$4", "$4")}) AS e WHERE e.tm BETWEEN $2 AND $3),
                    (SELECT tmin FROM metric_time_levels WHERE series_id = $1 AND level = 1
                       AND block > $4 AND block <= $5 AND tmin <= $3 ORDER BY block LIMIT 1)) AS x0,
              GREATEST((SELECT max(e.tm) FROM (${rawIn("$5", "$5")}) AS e WHERE e.tm BETWEEN $2 AND $3),
                       (SELECT tmax FROM metric_time_levels WHERE series_id = $1 AND level = 1
                          AND block < $5 AND block >= $4 AND tmax >= $2 ORDER BY block DESC LIMIT 1)) AS x1`,
      [series, lo, hi, bLo, bHi],
    );
    if (ext[0]?.x0 === null || ext[0]?.x0 === undefined) return empty;
    const x0 = Number(ext[0].x0);
    const x1 = Number(ext[0].x1);
    const level = levelFor(x1 - x0 + 1, maxPoints, TIME_LEVEL_SIZE);
    const p = new Params();
    p.add(series);
    const pieces: string[] = [];
    for (const { level: l, ranges } of decompose(x0, x1, level, TIME_LEVEL_SIZE)) {
      if (l === 0) {
        for (const [a, b] of ranges) {
          pieces.push(
            `SELECT tm AS t0, tm AS t1, step::float8 AS sl, 1 AS n, value AS lo, value AS hi, value AS vsum,
                    tm AS tsum, value AS vlast
             FROM (${rawIn(p.add(Math.floor(a / 1000)), p.add(Math.floor(b / 1000)))}) AS e
             WHERE e.tm BETWEEN ${p.add(a)} AND ${p.add(b)}`,
          );
        }
        continue;
      }
      const within = ranges
        .map(([a, b]) => `block BETWEEN ${p.add(a)}::bigint AND ${p.add(b)}::bigint`)
        .join(" OR ");
      pieces.push(
        `SELECT tmin AS t0, tmax AS t1, smax::float8 AS sl, n, vmin AS lo, vmax AS hi, vsum, tsum, last_value AS vlast
         FROM metric_time_levels WHERE series_id = $1 AND level = ${l} AND (${within})`,
      );
    }
    const pX0 = p.add(x0);
    const pSpan = p.add(x1 - x0);
    const pMax = p.add(maxPoints);
    const rows = await this.db.query<Record<string, number | string>>(
      `SELECT sum(n)::float8 AS n, min(lo) AS lo, max(hi) AS hi, sum(vsum) AS vsum, sum(tsum) AS tsum,
              max(t1) AS t1, (max(ARRAY[t1, sl, vlast]))[3] AS vlast
       FROM (
         SELECT *, LEAST(COALESCE(floor((t0 - ${pX0}::float8) / NULLIF(${pSpan}::float8, 0) * ${pMax}::int)::int, 0),
                         ${pMax}::int - 1) AS b
         FROM (${pieces.join(" UNION ALL ")}) AS pieces
       ) AS bucketed
       GROUP BY b ORDER BY b`,
      p.values,
    );
    const total = rows.reduce((a, r) => a + Number(r.n), 0);
    if (total <= maxPoints) {
      const raw = await this.db.query<{ step: number | string; value: number; tm: number }>(
        `SELECT e.step, e.value, e.tm FROM (${rawIn("$4", "$5")}) AS e WHERE e.tm BETWEEN $2 AND $3
         ORDER BY e.tm, e.step`,
        [series, x0, x1, Math.floor(x0 / 1000), Math.floor(x1 / 1000)],
      );
      return {
        key,
        total: raw.length,
        downsampled: false,
        points: raw.map((r) => {
          const y = Number(r.value);
          return { x: toX(Number(r.tm)), y, min: y, max: y, count: 1 };
        }),
      };
    }
    const points: SeriesPoint[] = rows.map((r) => {
      const n = Number(r.n);
      return {
        x: toX(yMode === "mean" ? Number(r.tsum) / n : Number(r.t1)),
        y: yMode === "mean" ? Number(r.vsum) / n : Number(r.vlast),
        min: Number(r.lo),
        max: Number(r.hi),
        count: n,
      };
    });
    return { key, total, downsampled: true, points };
  }
}
