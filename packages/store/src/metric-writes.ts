import {
  POINTS_COPY_TARGET,
  pointsCopyData,
  STEP_LEVELS_COPY_TARGET,
  stepLevelsCopyData,
} from "./copy-binary.js";
import type { Db, SqlValue } from "./db-types.js";
import { notFound, StoreError } from "./errors.js";
import { MetricWriter, type MetricWriterOptions, type NormalizedPoint } from "./metric-writer.js";
import { idSchema, metricPointsSchema, parse, stepSchema } from "./schemas.js";
import {
  type KeyPoints,
  mergeStepLevels,
  rebuildAllLevels,
  refreshLevels,
  splitNewStepLevels,
  stepLevelsOf,
  truncateLevels,
} from "./series-levels.js";
import { pgCode } from "./sql-util.js";
import {
  mergeTimeLevels,
  rebuildAllTimeLevels,
  rebuildTimeBlocks,
  type TimeBlockHint,
  TM,
  timeLevelsOf,
  truncateTimeLevels,
} from "./time-levels.js";
import type { MetricPoint } from "./types.js";

/** Rows per INSERT statement when writing metric points (keeps parameter arrays moderate). */
const INSERT_CHUNK = 5_000;

/**
 * Metric writes: batched idempotent appends that keep the pyramid levels (series-levels.ts,
 * time-levels.ts) in the same transaction as the points, the buffered MetricWriter, truncation
 * after a step (resume) and a full rebuild of the levels. Reads are in metric-reads.ts.
 */
export class MetricWritesRepo {
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

  /**
   * @internal Validated, normalized points -> one transaction. The run is checked once (and held
   * against deletion until commit), not per row. A batch whose steps all come after its keys'
   * stored steps (a training loop's appends) is inserted as is and its levels are computed here
   * and added to the stored rows in one statement per table; a batch that overwrites or fills in
   * points (a replay after a crash or resume) upserts and rebuilds the blocks it touched from the
   * points. Either way the rows equal one clean write of the same points (idempotent). Points and
   * levels are keyed by the (run, key)'s integer series id (metric_series, migration 008), looked
   * up (or created) once per batch.
   */
  private async writePoints(runId: string, points: NormalizedPoint[]): Promise<void> {
    if (!points.length) return;
    const batch = groupByKey(points);
    try {
      await this.db.transaction((tx) => this.writeBatch(tx, runId, batch, false));
    } catch (err) {
      // Someone else stored one of these steps since we looked: write the batch as an overwrite.
      if (pgCode(err) !== "23505") throw err;
      await this.db.transaction((tx) => this.writeBatch(tx, runId, batch, true));
    }
  }

  private async writeBatch(tx: Db, runId: string, batch: KeyPoints[], overwrite: boolean): Promise<void> {
    const keys = batch.map((b) => b.key);
    // Writers of one run take turns on a server, so an append decision cannot go stale.
    if (tx.driver === "pg") await tx.query("SELECT pg_advisory_xact_lock(1936028532, hashtext($1))", [runId]);
    // One statement: hold the run against deletion (as a foreign key would), give new keys a
    // series, and read each series' id and last stored step (new series: inserted, no step).
    const rows = await tx.query<{ id: number; key: string; step: number | string | null }>(
      `WITH r AS (SELECT id FROM runs WHERE id = $1 FOR KEY SHARE),
       added AS (INSERT INTO metric_series (run_id, key) SELECT r.id, k FROM r CROSS JOIN unnest($2::text[]) AS k
                 -- Known keys are filtered out first: an insert that hits ON CONFLICT still takes an id.
                 WHERE NOT EXISTS (SELECT 1 FROM metric_series s WHERE s.run_id = r.id AND s.key = k)
                 ON CONFLICT DO NOTHING RETURNING id, key)
       SELECT id, key, NULL::bigint AS step FROM added
       UNION ALL
       SELECT s.id, s.key, (SELECT p.step FROM metric_points p WHERE p.series_id = s.id ORDER BY p.step DESC LIMIT 1)
       FROM r JOIN metric_series s ON s.run_id = r.id WHERE s.key = ANY($2::text[])`,
      [runId, keys],
    );
    if (!rows.length) throw notFound(runId, "runId");
    const byKey = new Map(rows.map((r) => [r.key, r]));
    const lastStep = new Map<number, number>();
    for (const b of batch) {
      const row = byKey.get(b.key);
      // Only if a series was created by a transaction this one cannot see (written around the store).
      if (!row)
        throw new StoreError(
          "conflict",
          `metric series ${b.key} of run ${runId} changed during the write; retry`,
        );
      b.series = Number(row.id);
      lastStep.set(b.series, row.step === null ? -1 : Number(row.step));
    }
    const append = !overwrite && batch.every((b) => b.steps[0] > (lastStep.get(b.series) ?? -1));
    if (append) {
      await insertPoints(tx, batch, "");
      const levels = stepLevelsOf(batch);
      if (tx.copyBinary) {
        // New blocks by COPY too; only the block per series and level at the old end is merged.
        const { fresh, merge } = splitNewStepLevels(levels, lastStep);
        if (fresh.level.length) await tx.copyBinary(STEP_LEVELS_COPY_TARGET, stepLevelsCopyData(fresh));
        await mergeStepLevels(tx, merge);
      } else await mergeStepLevels(tx, levels);
      await mergeTimeLevels(tx, timeLevelsOf(batch));
      return;
    }
    // Overwrite: where the points being replaced were in time, to rebuild their old time blocks.
    const maybeStored = batch.map((b) => {
      const upTo = lastStep.get(b.series) ?? -1;
      return { series: b.series, steps: b.steps.filter((st) => st <= upTo) };
    });
    const old = await tx.query<{ series: number; step: number | string; tm: number }>(
      `SELECT p.series_id AS series, p.step, ${TM} AS tm FROM unnest($1::int[], $2::bigint[]) AS t(series, step)
       JOIN metric_points p ON p.series_id = t.series AND p.step = t.step`,
      [maybeStored.flatMap((b) => b.steps.map(() => b.series)), maybeStored.flatMap((b) => b.steps)],
    );
    await insertPoints(
      tx,
      batch,
      "ON CONFLICT (series_id, step) DO UPDATE SET value = EXCLUDED.value, wall_time = EXCLUDED.wall_time",
    );
    await refreshLevels(
      tx,
      batch.flatMap((b) => b.steps.map((step) => ({ series: b.series, step }))),
    );
    const hints: TimeBlockHint[] = old.map((o) => ({
      series: Number(o.series),
      block: Math.floor(Number(o.tm) / 1000),
      smin: Number(o.step),
      smax: Number(o.step),
    }));
    for (const b of batch) {
      for (let i = 0; i < b.steps.length; i++) {
        hints.push({
          series: b.series,
          block: Math.floor(b.ms[i] / 1000),
          smin: b.steps[i],
          smax: b.steps[i],
        });
      }
    }
    await rebuildTimeBlocks(tx, hints);
  }

  /**
   * Rebuilds the run's series levels from its points, in one transaction. Only needed after
   * writing metric_points directly (bulk imports); the store's own writes keep them current.
   */
  async rebuildSeriesLevels(runId: string): Promise<void> {
    const id = parse(idSchema, runId, "run id", "runId");
    await this.db.transaction(async (tx) => {
      await rebuildAllLevels(tx, id);
      await rebuildAllTimeLevels(tx, id);
    });
  }

  /**
   * Resume support: drops points with step > `step` (written after the checkpoint being resumed
   * from), so the replayed steps do not leave stale values behind. Returns how many were deleted.
   */
  async deleteMetricsAfter(runId: string, step: number): Promise<number> {
    const id = parse(idSchema, runId, "run id", "runId");
    const s = parse(stepSchema, step, "step", "step");
    return this.db.transaction(async (tx) => {
      // Takes turns with the run's writers (writeBatch): a series it drops cannot be in use by one.
      if (tx.driver === "pg") await tx.query("SELECT pg_advisory_xact_lock(1936028532, hashtext($1))", [id]);
      const rows = await tx.query<{ n: number }>(
        `WITH d AS (DELETE FROM metric_points p USING metric_series s
                    WHERE s.run_id = $1 AND p.series_id = s.id AND p.step > $2 RETURNING 1)
         SELECT count(*)::int AS n FROM d`,
        [id, s],
      );
      await truncateLevels(tx, id, s);
      await truncateTimeLevels(tx, id, s);
      await tx.query(
        `DELETE FROM metric_series s WHERE s.run_id = $1
           AND NOT EXISTS (SELECT 1 FROM metric_points p WHERE p.series_id = s.id)`,
        [id],
      );
      return Number(rows[0].n);
    });
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

/**
 * A batch per key, in step order; a (key, step) given twice keeps the last value. The writer's
 * buffer arrives in step order already, so sorting is the exception.
 */
export function groupByKey(points: readonly NormalizedPoint[]): KeyPoints[] {
  const byKey = new Map<string, NormalizedPoint[]>();
  for (const pt of points) {
    const list = byKey.get(pt.key);
    if (list) list.push(pt);
    else byKey.set(pt.key, [pt]);
  }
  const out: KeyPoints[] = [];
  for (const [key, list] of byKey) {
    let ordered = true;
    for (let i = 1; i < list.length && ordered; i++) ordered = list[i].step > list[i - 1].step;
    let pts = list;
    if (!ordered) {
      // Stable sort, then keep the last of equal steps.
      pts = list
        .map((pt, i) => ({ pt, i }))
        .sort((a, b) => a.pt.step - b.pt.step || a.i - b.i)
        .map((x) => x.pt);
      pts = pts.filter((pt, i) => i === pts.length - 1 || pts[i + 1].step !== pt.step);
    }
    out.push({
      key,
      series: -1,
      steps: pts.map((pt) => pt.step),
      values: pts.map((pt) => pt.value),
      ms: pts.map((pt) => pt.wallTime.getTime()),
    });
  }
  return out;
}

/**
 * Writes a batch's points: a binary COPY where the driver has one (PGlite) and no conflict can
 * arise (appends), else multi-row INSERTs of arrays (`conflict`: an ON CONFLICT clause or "").
 */
async function insertPoints(tx: Db, batch: readonly KeyPoints[], conflict: string): Promise<void> {
  if (!conflict && tx.copyBinary) {
    const data = pointsCopyData(batch);
    if (data) return tx.copyBinary(POINTS_COPY_TARGET, data);
  }
  const total = batch.reduce((a, b) => a + b.steps.length, 0);
  const series: number[] = new Array(total);
  const steps: number[] = new Array(total);
  const values: number[] = new Array(total);
  const ms: number[] = new Array(total);
  let i = 0;
  for (const b of batch) {
    for (let j = 0; j < b.steps.length; j++, i++) {
      series[i] = b.series;
      steps[i] = b.steps[j];
      values[i] = b.values[j];
      ms[i] = b.ms[j];
    }
  }
  for (let at = 0; at < total; at += INSERT_CHUNK) {
    const end = Math.min(total, at + INSERT_CHUNK);
    await tx.query(
      `INSERT INTO metric_points (series_id, step, value, wall_time)
       SELECT t.series, t.step, t.value, to_timestamp(t.ms / 1000)
       FROM unnest($1::int[], $2::bigint[], $3::float8[], $4::float8[]) AS t(series, step, value, ms) ${conflict}`,
      // Milliseconds, not Dates: the drivers serialize numbers far faster than timestamps.
      [series.slice(at, end), steps.slice(at, end), values.slice(at, end), ms.slice(at, end)] as SqlValue[],
    );
  }
}
