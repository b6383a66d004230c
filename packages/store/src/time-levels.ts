/**
 * Pyramid levels of metric series over wall time (table metric_time_levels, migration 006):
 * what readSeries reads on the wall_time and relative_time axes, kept like the step levels
 * (series-levels.ts).
 *
 * Level l = 1..7 aggregates blocks of 1,000 * 16^(l-1) ms (1 s up to 194 days): block b of level l
 * covers times [b * size, (b + 1) * size). Times are whole milliseconds (round(epoch * 1000)); a
 * relative-time axis is the same blocks shifted by the run's origin. Besides count, min, max and
 * sums, each row keeps the step range of its points (smin..smax), which is how the raw points of
 * a block are found through the (series, step) primary key without an index on wall time.
 */
import type { Db, SqlValue } from "./db-types.js";
import { FANOUT, type KeyPoints } from "./series-levels.js";

/** Highest time level (blocks of 1,000 * 16^6 ms, about 194 days). */
export const TIME_TOP_LEVEL = 7;
/** Milliseconds per block at each time level; level 0 is the raw points (1 ms). */
export const TIME_LEVEL_SIZE: readonly number[] = [
  1,
  ...Array.from({ length: TIME_TOP_LEVEL }, (_, l) => 1000 * FANOUT ** l),
];

const COLUMNS = "series_id, level, block, n, vmin, vmax, vsum, tsum, tmin, tmax, smin, smax, last_value";

/** A point's time in whole ms, in SQL (alias `p` for metric_points). */
export const TM = "round(date_part('epoch', p.wall_time) * 1000)";

interface TimeLevelColumns {
  level: number[];
  series: number[];
  block: number[];
  n: number[];
  vmin: number[];
  vmax: number[];
  vsum: number[];
  tsum: number[];
  tmin: number[];
  tmax: number[];
  smin: number[];
  smax: number[];
  lastValue: number[];
  /** Step of the last point by (time, step): breaks ties between points of one millisecond. */
  lastStep: number[];
}

/** The time levels of a batch's own points (each key's points in step order). */
export function timeLevelsOf(batch: readonly KeyPoints[]): TimeLevelColumns {
  const c: TimeLevelColumns = {
    level: [],
    series: [],
    block: [],
    n: [],
    vmin: [],
    vmax: [],
    vsum: [],
    tsum: [],
    tmin: [],
    tmax: [],
    smin: [],
    smax: [],
    lastValue: [],
    lastStep: [],
  };
  for (const { series, steps, values, ms } of batch) {
    // Level 1 by block; times are usually increasing, so remember the last block's row.
    const rows = new Map<number, number>();
    let from = c.level.length;
    let lastBlock = Number.NaN;
    let lastRow = -1;
    for (let i = 0; i < steps.length; i++) {
      const t = ms[i];
      const s = steps[i];
      const v = values[i];
      const block = Math.floor(t / 1000);
      let j = block === lastBlock ? lastRow : (rows.get(block) ?? -1);
      if (j < 0) {
        j = c.level.length;
        rows.set(block, j);
        pushTime(c, 1, series, block, 1, v, v, v, t, t, t, s, s, v, s);
      } else {
        c.n[j]++;
        if (v < c.vmin[j]) c.vmin[j] = v;
        if (v > c.vmax[j]) c.vmax[j] = v;
        c.vsum[j] += v;
        c.tsum[j] += t;
        if (t < c.tmin[j]) c.tmin[j] = t;
        // Steps ascend: at an equal time the later point is the last one.
        if (t >= c.tmax[j]) {
          c.tmax[j] = t;
          c.lastValue[j] = v;
          c.lastStep[j] = s;
        }
        if (s < c.smin[j]) c.smin[j] = s;
        if (s > c.smax[j]) c.smax[j] = s;
      }
      lastBlock = block;
      lastRow = j;
    }
    for (let level = 2; level <= TIME_TOP_LEVEL; level++) {
      const to = c.level.length;
      const parents = new Map<number, number>();
      for (let i = from; i < to; i++) {
        const block = Math.floor(c.block[i] / FANOUT);
        const j = parents.get(block);
        if (j === undefined) {
          parents.set(block, c.level.length);
          pushTime(
            c,
            level,
            series,
            block,
            c.n[i],
            c.vmin[i],
            c.vmax[i],
            c.vsum[i],
            c.tsum[i],
            c.tmin[i],
            c.tmax[i],
            c.smin[i],
            c.smax[i],
            c.lastValue[i],
            c.lastStep[i],
          );
          continue;
        }
        c.n[j] += c.n[i];
        if (c.vmin[i] < c.vmin[j]) c.vmin[j] = c.vmin[i];
        if (c.vmax[i] > c.vmax[j]) c.vmax[j] = c.vmax[i];
        c.vsum[j] += c.vsum[i];
        c.tsum[j] += c.tsum[i];
        if (c.tmin[i] < c.tmin[j]) c.tmin[j] = c.tmin[i];
        if (c.tmax[i] > c.tmax[j] || (c.tmax[i] === c.tmax[j] && c.lastStep[i] > c.lastStep[j])) {
          c.tmax[j] = c.tmax[i];
          c.lastValue[j] = c.lastValue[i];
          c.lastStep[j] = c.lastStep[i];
        }
        if (c.smin[i] < c.smin[j]) c.smin[j] = c.smin[i];
        if (c.smax[i] > c.smax[j]) c.smax[j] = c.smax[i];
      }
      from = to;
    }
  }
  return c;
}

function pushTime(
  c: TimeLevelColumns,
  level: number,
  series: number,
  block: number,
  n: number,
  vmin: number,
  vmax: number,
  vsum: number,
  tsum: number,
  tmin: number,
  tmax: number,
  smin: number,
  smax: number,
  lastValue: number,
  lastStep: number,
): void {
  c.level.push(level);
  c.series.push(series);
  c.block.push(block);
  c.n.push(n);
  c.vmin.push(vmin);
  c.vmax.push(vmax);
  c.vsum.push(vsum);
  c.tsum.push(tsum);
  c.tmin.push(tmin);
  c.tmax.push(tmax);
  c.smin.push(smin);
  c.smax.push(smax);
  c.lastValue.push(lastValue);
  c.lastStep.push(lastStep);
}

/**
 * Adds a batch's time levels to the stored rows in one statement. Only for points that were not
 * stored before and come after every stored step of their key (the writer's append path): then
 * at an equal last time the batch's point is the later one.
 */
export async function mergeTimeLevels(tx: Db, c: TimeLevelColumns): Promise<void> {
  if (!c.level.length) return;
  await tx.query(
    `INSERT INTO metric_time_levels AS m (${COLUMNS})
     SELECT t.series, t.level, t.block, t.n, t.vmin, t.vmax, t.vsum, t.tsum, t.tmin, t.tmax, t.smin, t.smax, t.last_value
     FROM unnest($1::int[], $2::int2[], $3::bigint[], $4::int[], $5::float8[], $6::float8[], $7::float8[],
                 $8::float8[], $9::float8[], $10::float8[], $11::bigint[], $12::bigint[], $13::float8[])
       AS t(series, level, block, n, vmin, vmax, vsum, tsum, tmin, tmax, smin, smax, last_value)
     ON CONFLICT (series_id, level, block) DO UPDATE SET n = m.n + EXCLUDED.n,
       vmin = LEAST(m.vmin, EXCLUDED.vmin), vmax = GREATEST(m.vmax, EXCLUDED.vmax), vsum = m.vsum + EXCLUDED.vsum,
       tsum = m.tsum + EXCLUDED.tsum, tmin = LEAST(m.tmin, EXCLUDED.tmin), tmax = GREATEST(m.tmax, EXCLUDED.tmax),
       smin = LEAST(m.smin, EXCLUDED.smin), smax = GREATEST(m.smax, EXCLUDED.smax),
       last_value = CASE WHEN EXCLUDED.tmax >= m.tmax THEN EXCLUDED.last_value ELSE m.last_value END`,
    [
      c.series,
      c.level,
      c.block,
      c.n,
      c.vmin,
      c.vmax,
      c.vsum,
      c.tsum,
      c.tmin,
      c.tmax,
      c.smin,
      c.smax,
      c.lastValue,
    ],
  );
}

/** A level-1 time block to rebuild, with the steps of points that may have moved into it. */
export interface TimeBlockHint {
  series: number;
  block: number;
  smin: number;
  smax: number;
}

/**
 * Rebuilds time blocks from the points (level 1) and from the level below (levels 2..7), for
 * blocks whose points changed: `level1` (with the steps of points written into them), `upper[l]`
 * blocks of level l known to be affected, and every parent of a rebuilt block. A block left
 * without points loses its row. Two statements per level; for overwrites and resume, not for the
 * append path.
 */
export async function rebuildTimeBlocks(
  tx: Db,
  level1: readonly TimeBlockHint[],
  upper: ReadonlyMap<number, ReadonlyArray<{ series: number; block: number }>> = new Map(),
): Promise<void> {
  // Level 1: the stored row's step range plus the hints' steps bound where its points are.
  const ranges = new Map<string, TimeBlockHint>();
  for (const h of level1) {
    const id = `${h.series}:${h.block}`;
    const r = ranges.get(id);
    if (r) {
      r.smin = Math.min(r.smin, h.smin);
      r.smax = Math.max(r.smax, h.smax);
    } else ranges.set(id, { ...h });
  }
  const touched = [...ranges.values()];
  if (touched.length) {
    const old = await tx.query<{
      series: number;
      block: number | string;
      smin: number | string;
      smax: number | string;
    }>(
      `DELETE FROM metric_time_levels r USING unnest($1::int[], $2::bigint[]) AS t(series, block)
       WHERE r.series_id = t.series AND r.level = 1 AND r.block = t.block
       RETURNING r.series_id AS series, r.block, r.smin, r.smax`,
      [touched.map((t) => t.series), touched.map((t) => t.block)],
    );
    for (const o of old) {
      const r = ranges.get(`${Number(o.series)}:${Number(o.block)}`);
      if (!r) continue;
      r.smin = Math.min(r.smin, Number(o.smin));
      r.smax = Math.max(r.smax, Number(o.smax));
    }
    await tx.query(
      `INSERT INTO metric_time_levels (${COLUMNS})
       SELECT t.series, 1, t.block, a.n, a.vmin, a.vmax, a.vsum, a.tsum, a.tmin, a.tmax, a.smin, a.smax, a.last_value
       FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[]) AS t(series, block, lo, hi)
       CROSS JOIN LATERAL (
         SELECT count(*)::int AS n, min(value) AS vmin, max(value) AS vmax, sum(value) AS vsum, sum(tm) AS tsum,
                min(tm) AS tmin, max(tm) AS tmax, min(step) AS smin, max(step) AS smax,
                (max(ARRAY[tm, step::float8, value]))[3] AS last_value
         FROM (SELECT p.step, p.value, ${TM} AS tm FROM metric_points p
               WHERE p.series_id = t.series AND p.step BETWEEN t.lo AND t.hi) AS q
         WHERE floor(q.tm / 1000) = t.block
       ) AS a
       WHERE a.n > 0`,
      [
        touched.map((t) => t.series),
        touched.map((t) => t.block),
        touched.map((t) => t.smin),
        touched.map((t) => t.smax),
      ] as SqlValue[],
    );
  }
  let below: Array<{ series: number; block: number }> = touched;
  for (let level = 2; level <= TIME_TOP_LEVEL; level++) {
    const seen = new Set<string>();
    const blocks: Array<{ series: number; block: number }> = [];
    for (const b of [
      ...below.map((t) => ({ series: t.series, block: Math.floor(t.block / FANOUT) })),
      ...(upper.get(level) ?? []),
    ]) {
      const id = `${b.series}:${b.block}`;
      if (seen.has(id)) continue;
      seen.add(id);
      blocks.push(b);
    }
    // Nothing at this level, but `upper` may still name blocks further up (after a cut).
    below = blocks;
    if (!blocks.length) continue;
    const ids = blocks.map((b) => b.series);
    const nums = blocks.map((b) => b.block);
    await tx.query(
      `DELETE FROM metric_time_levels r USING unnest($1::int[], $2::bigint[]) AS t(series, block)
       WHERE r.series_id = t.series AND r.level = ${level} AND r.block = t.block`,
      [ids, nums],
    );
    await tx.query(
      `INSERT INTO metric_time_levels (${COLUMNS})
       SELECT t.series, ${level}, t.block, a.n, a.vmin, a.vmax, a.vsum, a.tsum, a.tmin, a.tmax, a.smin, a.smax,
              a.last_value
       FROM unnest($1::int[], $2::bigint[]) AS t(series, block)
       CROSS JOIN LATERAL (
         SELECT sum(l.n)::int AS n, min(l.vmin) AS vmin, max(l.vmax) AS vmax, sum(l.vsum) AS vsum,
                sum(l.tsum) AS tsum, min(l.tmin) AS tmin, max(l.tmax) AS tmax, min(l.smin) AS smin,
                max(l.smax) AS smax, (max(ARRAY[l.tmax, l.smax::float8, l.last_value]))[3] AS last_value
         FROM metric_time_levels l
         WHERE l.series_id = t.series AND l.level = ${level - 1}
           AND l.block >= t.block * ${FANOUT} AND l.block < (t.block + 1) * ${FANOUT}
       ) AS a
       WHERE a.n > 0`,
      [ids, nums],
    );
  }
}

/**
 * After deleteMetricsAfter removed the points with step > `step`: drops time blocks that held
 * only such points and rebuilds the ones that held some (and every level above them).
 */
export async function truncateTimeLevels(tx: Db, runId: string, step: number): Promise<void> {
  await tx.query(
    `DELETE FROM metric_time_levels l USING metric_series s
     WHERE s.run_id = $1 AND l.series_id = s.id AND l.smin > $2`,
    [runId, step],
  );
  // Rows with points on both sides of the cut. An ancestor holds its descendants' points, so the
  // set is closed upwards: rebuilding it level by level is enough.
  const rows = await tx.query<{
    series: number;
    level: number;
    block: number | string;
    smin: number | string;
  }>(
    `SELECT l.series_id AS series, l.level, l.block, l.smin FROM metric_time_levels l JOIN metric_series s
       ON l.series_id = s.id WHERE s.run_id = $1 AND l.smax > $2`,
    [runId, step],
  );
  const level1: TimeBlockHint[] = [];
  const upper = new Map<number, Array<{ series: number; block: number }>>();
  for (const r of rows) {
    const level = Number(r.level);
    const block = Number(r.block);
    const series = Number(r.series);
    if (level === 1) level1.push({ series, block, smin: Number(r.smin), smax: step });
    else {
      const list = upper.get(level) ?? [];
      list.push({ series, block });
      upper.set(level, list);
    }
  }
  // Parents of blocks dropped above: their smax > step too, so they are in `rows` already.
  await rebuildTimeBlocks(tx, level1, upper);
}

/** Rebuilds all time levels of a run from its points (bulk imports; see rebuildAllLevels). */
export async function rebuildAllTimeLevels(tx: Db, runId: string): Promise<void> {
  const ids = await tx.query<{ id: number }>("SELECT id FROM metric_series WHERE run_id = $1", [runId]);
  const series = ids.map((r) => Number(r.id));
  await tx.query("DELETE FROM metric_time_levels WHERE series_id = ANY($1::int[])", [series]);
  await tx.query(
    `INSERT INTO metric_time_levels (${COLUMNS})
     SELECT series_id, 1, floor(tm / 1000)::bigint, count(*), min(value), max(value), sum(value), sum(tm), min(tm),
            max(tm), min(step), max(step), (max(ARRAY[tm, step::float8, value]))[3]
     FROM (SELECT p.series_id, p.step, p.value, ${TM} AS tm FROM metric_points p WHERE p.series_id = ANY($1::int[])) AS q
     GROUP BY series_id, floor(tm / 1000)::bigint`,
    [series],
  );
  for (let level = 2; level <= TIME_TOP_LEVEL; level++) {
    await tx.query(
      `INSERT INTO metric_time_levels (${COLUMNS})
       SELECT series_id, ${level}, block >> 4, sum(n), min(vmin), max(vmax), sum(vsum), sum(tsum), min(tmin),
              max(tmax), min(smin), max(smax), (max(ARRAY[tmax, smax::float8, last_value]))[3]
       FROM metric_time_levels WHERE series_id = ANY($1::int[]) AND level = ${level - 1}
       GROUP BY series_id, block >> 4`,
      [series],
    );
  }
}
