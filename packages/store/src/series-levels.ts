/**
 * Pyramid levels of metric series (table metric_levels, migration 004): maintenance on write and
 * the range decomposition readSeries uses.
 *
 * Level l >= 1 aggregates blocks of FANOUT^l steps (16, 256, 4,096, 65,536, 1,048,576): block b of
 * level l covers steps [b * 16^l, (b + 1) * 16^l). A fan-out of 16 rather than 64 bounds what a read
 * can over-fetch: the level chosen has fewer than 16 * maxPoints blocks in range. Each level is rebuilt from the one below (level 1 from the raw
 * points) for exactly the blocks a write touched, inside the write's transaction. Rebuilding
 * rather than adding keeps it idempotent (a replayed batch, or a point overwritten with a new
 * value, gives the same rows as writing once) and exact (min / max are never approximations).
 */
import type { Db, SqlValue } from "./db-types.js";

export const FANOUT = 16;
/** Highest level stored (blocks of 16^5 = 1,048,576 steps). */
export const TOP_LEVEL = 5;
/** Steps per block at each level; level 0 is the raw points. */
export const LEVEL_SIZE: readonly number[] = Array.from({ length: TOP_LEVEL + 1 }, (_, l) => FANOUT ** l);

const LEVEL_COLUMNS =
  "series_id, level, block, n, vmin, vmax, vsum, ssum, first_step, last_step, first_value, last_value";

const UPSERT = `ON CONFLICT (series_id, level, block) DO UPDATE SET n = EXCLUDED.n, vmin = EXCLUDED.vmin,
  vmax = EXCLUDED.vmax, vsum = EXCLUDED.vsum, ssum = EXCLUDED.ssum, first_step = EXCLUDED.first_step,
  last_step = EXCLUDED.last_step, first_value = EXCLUDED.first_value, last_value = EXCLUDED.last_value`;

/**
 * SQL that rebuilds level `level`'s rows for the (series, block) pairs in $1 / $2 from the level
 * below. A block whose source rows are gone yields no row (callers delete those first).
 */
function rebuildSql(level: number): string {
  // LATERAL: one index range scan per touched block (a join lets the planner scan the run's
  // whole series once per batch, which grows with the series).
  const src =
    level === 1
      ? `SELECT count(*)::int AS n, min(p.value) AS vmin, max(p.value) AS vmax, sum(p.value) AS vsum,
                sum(p.step)::float8 AS ssum, min(p.step) AS first_step, max(p.step) AS last_step,
                (min(ARRAY[p.step::float8, p.value]))[2] AS first_value,
                (max(ARRAY[p.step::float8, p.value]))[2] AS last_value
         FROM metric_points p
         WHERE p.series_id = touched.series
           AND p.step >= touched.block * ${FANOUT} AND p.step < (touched.block + 1) * ${FANOUT}`
      : `SELECT sum(l.n)::int AS n, min(l.vmin) AS vmin, max(l.vmax) AS vmax, sum(l.vsum) AS vsum,
                sum(l.ssum) AS ssum, min(l.first_step) AS first_step, max(l.last_step) AS last_step,
                (min(ARRAY[l.first_step::float8, l.first_value]))[2] AS first_value,
                (max(ARRAY[l.last_step::float8, l.last_value]))[2] AS last_value
         FROM metric_levels l
         WHERE l.series_id = touched.series AND l.level = ${level - 1}
           AND l.block >= touched.block * ${FANOUT} AND l.block < (touched.block + 1) * ${FANOUT}`;
  return `INSERT INTO metric_levels (${LEVEL_COLUMNS})
    SELECT touched.series, ${level}, touched.block, a.n, a.vmin, a.vmax, a.vsum, a.ssum, a.first_step,
           a.last_step, a.first_value, a.last_value
    FROM (SELECT DISTINCT t.series, t.block FROM unnest($1::int[], $2::bigint[]) AS t(series, block)) AS touched
    CROSS JOIN LATERAL (${src}) AS a
    WHERE a.n > 0
    ${UPSERT}`;
}

/**
 * Rebuilds every level's blocks that contain one of `points` (series, step). Call inside the
 * transaction that wrote or deleted those points.
 */
export async function refreshLevels(
  tx: Db,
  points: ReadonlyArray<{ series: number; step: number }>,
): Promise<void> {
  if (!points.length) return;
  for (let level = 1; level <= TOP_LEVEL; level++) {
    const size = LEVEL_SIZE[level];
    const seen = new Set<string>();
    const series: number[] = [];
    const blocks: number[] = [];
    for (const pt of points) {
      const block = Math.floor(pt.step / size);
      const id = `${pt.series}:${block}`;
      if (seen.has(id)) continue;
      seen.add(id);
      series.push(pt.series);
      blocks.push(block);
    }
    await tx.query(rebuildSql(level), [series, blocks] as SqlValue[]);
  }
}

/**
 * Drops the level rows of blocks holding points with step > `step` and rebuilds the blocks that
 * contain `step` (their remaining points), after deleteMetricsAfter removed those points.
 */
export async function truncateLevels(tx: Db, runId: string, step: number): Promise<void> {
  await tx.query(
    `DELETE FROM metric_levels l USING metric_series s
     WHERE s.run_id = $1 AND l.series_id = s.id AND l.last_step > $2`,
    [runId, step],
  );
  const series = await tx.query<{ id: number }>("SELECT id FROM metric_series WHERE run_id = $1", [runId]);
  await refreshLevels(
    tx,
    series.map((s) => ({ series: Number(s.id), step })),
  );
}

/**
 * Rebuilds all levels of a run from its points (for points written around the store, e.g. a bulk
 * import with COPY or generate_series): one GROUP BY per level, level 1 over the points.
 */
export async function rebuildAllLevels(tx: Db, runId: string): Promise<void> {
  const ids = await tx.query<{ id: number }>("SELECT id FROM metric_series WHERE run_id = $1", [runId]);
  const series = ids.map((r) => Number(r.id));
  await tx.query("DELETE FROM metric_levels WHERE series_id = ANY($1::int[])", [series]);
  await tx.query(
    `INSERT INTO metric_levels (${LEVEL_COLUMNS})
     SELECT series_id, 1, step / ${FANOUT}, count(*), min(value), max(value), sum(value), sum(step)::float8,
            min(step), max(step), (min(ARRAY[step::float8, value]))[2], (max(ARRAY[step::float8, value]))[2]
     FROM metric_points WHERE series_id = ANY($1::int[]) GROUP BY series_id, step / ${FANOUT}`,
    [series],
  );
  for (let level = 2; level <= TOP_LEVEL; level++) {
    await tx.query(
      `INSERT INTO metric_levels (${LEVEL_COLUMNS})
       SELECT series_id, ${level}, block / ${FANOUT}, sum(n), min(vmin), max(vmax), sum(vsum), sum(ssum),
              min(first_step), max(last_step), (min(ARRAY[first_step::float8, first_value]))[2],
              (max(ARRAY[last_step::float8, last_value]))[2]
       FROM metric_levels WHERE series_id = ANY($1::int[]) AND level = ${level - 1}
       GROUP BY series_id, block / ${FANOUT}`,
      [series],
    );
  }
}

/** Inclusive ranges of block numbers to read at one level. */
export interface LevelRanges {
  level: number;
  ranges: Array<[number, number]>;
}

/**
 * Cuts the step range [lo, hi] into whole blocks, coarsest first: the widest run of whole
 * level-`top` blocks in the middle, then at each finer level the whole blocks of what is left at
 * the two edges, down to raw steps (level 0). The pieces are disjoint and cover [lo, hi] exactly,
 * with fewer than 2 * FANOUT of them per level below `top`.
 */
export function decompose(
  lo: number,
  hi: number,
  top: number,
  sizes: readonly number[] = LEVEL_SIZE,
): LevelRanges[] {
  const out: LevelRanges[] = [];
  for (let l = 0; l <= top; l++) out.push({ level: l, ranges: [] });
  const cut = (a: number, b: number, level: number): void => {
    if (a > b) return;
    if (level === 0) {
      out[0].ranges.push([a, b]);
      return;
    }
    const size = sizes[level];
    const first = Math.ceil(a / size);
    const last = Math.floor((b + 1) / size) - 1;
    if (first > last) {
      cut(a, b, level - 1);
      return;
    }
    out[level].ranges.push([first, last]);
    cut(a, first * size - 1, level - 1);
    cut((last + 1) * size, b, level - 1);
  };
  cut(lo, hi, top);
  return out.filter((l) => l.ranges.length > 0);
}

/**
 * The coarsest level whose blocks still give `maxPoints` buckets over a span of `span` steps
 * (or ms, with the time levels' sizes); 0: aggregate the raw points.
 */
export function levelFor(span: number, maxPoints: number, sizes: readonly number[] = LEVEL_SIZE): number {
  for (let l = sizes.length - 1; l >= 1; l--) if (span / sizes[l] >= maxPoints) return l;
  return 0;
}

/** One key's points of a batch, in step order. */
export interface KeyPoints {
  key: string;
  /** The key's metric_series id in the run (set once the batch's transaction has looked it up). */
  series: number;
  steps: number[];
  values: number[];
  /** Wall times, ms since the epoch. */
  ms: number[];
}

/** Level rows as parallel columns, ready for one multi-row statement (unnest of arrays). */
export interface StepLevelColumns {
  level: number[];
  series: number[];
  block: number[];
  n: number[];
  vmin: number[];
  vmax: number[];
  vsum: number[];
  ssum: number[];
  firstStep: number[];
  lastStep: number[];
  firstValue: number[];
  lastValue: number[];
}

/**
 * The step levels of a batch's own points, computed here rather than in SQL: level 1 by one pass
 * over each key's points (in step order), each level above from the one below.
 */
export function stepLevelsOf(batch: readonly KeyPoints[]): StepLevelColumns {
  const c = emptyColumns();
  for (const { series, steps, values } of batch) {
    let from = c.level.length;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i];
      const v = values[i];
      const block = Math.floor(s / FANOUT);
      const j = c.level.length - 1;
      if (j >= from && c.block[j] === block) {
        c.n[j]++;
        if (v < c.vmin[j]) c.vmin[j] = v;
        if (v > c.vmax[j]) c.vmax[j] = v;
        c.vsum[j] += v;
        c.ssum[j] += s;
        c.lastStep[j] = s;
        c.lastValue[j] = v;
      } else {
        push(c, 1, series, block, 1, v, v, v, s, s, s, v, v);
      }
    }
    for (let level = 2; level <= TOP_LEVEL; level++) {
      const to = c.level.length;
      const start = to;
      for (let i = from; i < to; i++) {
        const block = Math.floor(c.block[i] / FANOUT);
        const j = c.level.length - 1;
        if (j >= start && c.block[j] === block) {
          c.n[j] += c.n[i];
          if (c.vmin[i] < c.vmin[j]) c.vmin[j] = c.vmin[i];
          if (c.vmax[i] > c.vmax[j]) c.vmax[j] = c.vmax[i];
          c.vsum[j] += c.vsum[i];
          c.ssum[j] += c.ssum[i];
          c.lastStep[j] = c.lastStep[i];
          c.lastValue[j] = c.lastValue[i];
        } else {
          push(
            c,
            level,
            series,
            block,
            c.n[i],
            c.vmin[i],
            c.vmax[i],
            c.vsum[i],
            c.ssum[i],
            c.firstStep[i],
            c.lastStep[i],
            c.firstValue[i],
            c.lastValue[i],
          );
        }
      }
      from = start;
    }
  }
  return c;
}

function emptyColumns(): StepLevelColumns {
  return {
    level: [],
    series: [],
    block: [],
    n: [],
    vmin: [],
    vmax: [],
    vsum: [],
    ssum: [],
    firstStep: [],
    lastStep: [],
    firstValue: [],
    lastValue: [],
  };
}

function push(
  c: StepLevelColumns,
  level: number,
  series: number,
  block: number,
  n: number,
  vmin: number,
  vmax: number,
  vsum: number,
  ssum: number,
  firstStep: number,
  lastStep: number,
  firstValue: number,
  lastValue: number,
): void {
  c.level.push(level);
  c.series.push(series);
  c.block.push(block);
  c.n.push(n);
  c.vmin.push(vmin);
  c.vmax.push(vmax);
  c.vsum.push(vsum);
  c.ssum.push(ssum);
  c.firstStep.push(firstStep);
  c.lastStep.push(lastStep);
  c.firstValue.push(firstValue);
  c.lastValue.push(lastValue);
}

/**
 * Splits an append batch's level rows into blocks no stored point can be in (new: after the
 * block holding the key's last stored step) and the one block per key and level that may hold
 * stored points too (to merge). `lastStep`: each series' last stored step, -1 if none.
 */
export function splitNewStepLevels(
  c: StepLevelColumns,
  lastStep: ReadonlyMap<number, number>,
): { fresh: StepLevelColumns; merge: StepLevelColumns } {
  const fresh = emptyColumns();
  const merge = emptyColumns();
  for (let i = 0; i < c.level.length; i++) {
    const last = lastStep.get(c.series[i]) ?? -1;
    const shared = last >= 0 && c.block[i] === Math.floor(last / LEVEL_SIZE[c.level[i]]);
    push(
      shared ? merge : fresh,
      c.level[i],
      c.series[i],
      c.block[i],
      c.n[i],
      c.vmin[i],
      c.vmax[i],
      c.vsum[i],
      c.ssum[i],
      c.firstStep[i],
      c.lastStep[i],
      c.firstValue[i],
      c.lastValue[i],
    );
  }
  return { fresh, merge };
}

/**
 * Adds a batch's step levels (stepLevelsOf) to the stored rows in one statement: counts and sums
 * add up, min / max / first / last combine. Only for points that were not stored before (the
 * writer's append path); a batch that overwrites points goes through refreshLevels instead.
 */
export async function mergeStepLevels(tx: Db, c: StepLevelColumns): Promise<void> {
  if (!c.level.length) return;
  await tx.query(
    `INSERT INTO metric_levels AS m (${LEVEL_COLUMNS})
     SELECT t.series, t.level, t.block, t.n, t.vmin, t.vmax, t.vsum, t.ssum, t.first_step, t.last_step, t.first_value,
            t.last_value
     FROM unnest($1::int[], $2::int2[], $3::bigint[], $4::int[], $5::float8[], $6::float8[],
                 $7::float8[], $8::float8[], $9::bigint[], $10::bigint[], $11::float8[], $12::float8[])
       AS t(series, level, block, n, vmin, vmax, vsum, ssum, first_step, last_step, first_value, last_value)
     ON CONFLICT (series_id, level, block) DO UPDATE SET n = m.n + EXCLUDED.n,
       vmin = LEAST(m.vmin, EXCLUDED.vmin), vmax = GREATEST(m.vmax, EXCLUDED.vmax), vsum = m.vsum + EXCLUDED.vsum,
       ssum = m.ssum + EXCLUDED.ssum, first_step = LEAST(m.first_step, EXCLUDED.first_step),
       last_step = GREATEST(m.last_step, EXCLUDED.last_step),
       first_value = CASE WHEN EXCLUDED.first_step < m.first_step THEN EXCLUDED.first_value ELSE m.first_value END,
       last_value = CASE WHEN EXCLUDED.last_step > m.last_step THEN EXCLUDED.last_value ELSE m.last_value END`,
    [
      c.series,
      c.level,
      c.block,
      c.n,
      c.vmin,
      c.vmax,
      c.vsum,
      c.ssum,
      c.firstStep,
      c.lastStep,
      c.firstValue,
      c.lastValue,
    ],
  );
}
