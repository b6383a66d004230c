import { decodeCursor, encodeCursor } from "./cursor.js";
import { type Db, type OpenDbOptions, openDb, type Row, type SqlValue } from "./db.js";
import { StoreError } from "./errors.js";
import { newId } from "./id.js";
import { MetricWriter, type MetricWriterOptions, type NormalizedPoint } from "./metric-writer.js";
import { type MigrateResult, migrate } from "./migrate.js";
import {
  artifactSchema,
  checkpointSchema,
  createRunSchema,
  DEFAULT_MAX_POINTS,
  DEFAULT_PAGE_SIZE,
  evaluationSchema,
  finishSchema,
  idSchema,
  keySchema,
  leaderboardSchema,
  listRunsSchema,
  MAX_ARTIFACT_BYTES,
  metricPointsSchema,
  noteSchema,
  olderThanSchema,
  parse,
  type RunStatus,
  readSeriesSchema,
  runFilterSchema,
  seriesKeysSchema,
  startSchema,
  stepSchema,
  summarySchema,
  tagSchema,
  tagsSchema,
} from "./schemas.js";
import type {
  Artifact,
  ArtifactInput,
  Checkpoint,
  CheckpointInput,
  CreateRunInput,
  Evaluation,
  EvaluationInput,
  FinishRunInput,
  LeaderboardEntry,
  LeaderboardOptions,
  ListRunsOptions,
  MetricPoint,
  ReadSeriesOptions,
  Run,
  RunFilter,
  RunPage,
  Series,
  SeriesPoint,
} from "./types.js";

export interface OpenStoreOptions extends OpenDbOptions {
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
}

/**
 * Opens the run store: picks the database (see resolveTarget: url, dataDir, DATABASE_URL, then
 * `${SELFSUP_HOME ?? '.selfsup'}/db`), applies pending migrations, and returns the repository.
 * Close it with `store.close()`.
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<RunStore> {
  const db = await openDb(options);
  let migration: MigrateResult | undefined;
  try {
    if (options.migrate !== false) migration = await migrate(db, { schema: options.schema });
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  return new RunStore(db, migration);
}

const RUN_COLUMNS = `id, name, method, family, backbone, dataset, backend, host, config, status, error, tags,
  notes, summary, parent_id, resumed_from, created_at, started_at, finished_at, heartbeat_at`;

/** Rows per INSERT statement when writing metric points (keeps parameter arrays moderate). */
const INSERT_CHUNK = 5_000;

/** Collects `$n` placeholders and their values while a query is assembled. */
class Params {
  readonly values: SqlValue[] = [];
  add(value: SqlValue): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

interface OrderSpec {
  /** SQL expression sorted on. */
  expr: string;
  nullable: boolean;
  /** SQL giving the cursor value of a row (text for timestamps, to keep microseconds). */
  cursorExpr: string;
  /** Cast applied to the cursor value parameter. */
  cast: string;
}

/**
 * The repository over one Db: every read and write of runs, metrics, evaluations, checkpoints and
 * artifacts goes through here, with inputs validated (StoreError with `code` and `field`) before
 * any SQL runs. Methods are safe to call concurrently; each write is one statement or one
 * transaction.
 */
export class RunStore {
  /** The underlying database, for callers that need a custom query. */
  readonly db: Db;
  /** What openStore's migration did (undefined when opened with migrate: false). */
  readonly migration: MigrateResult | undefined;
  private readonly writers = new Set<MetricWriter>();

  constructor(db: Db, migration?: MigrateResult) {
    this.db = db;
    this.migration = migration;
  }

  // ---------------------------------------------------------------- runs

  /** Creates a run (status queued, or running for a local run). A duplicate id is a conflict. */
  async createRun(input: CreateRunInput): Promise<Run> {
    const v = parse(createRunSchema, input, "createRun input");
    const id = v.id ?? newId();
    const name = v.name ?? [v.method, v.dataset, id.slice(-6).toLowerCase()].filter(Boolean).join("-");
    const status = v.status ?? "queued";
    try {
      const rows = await this.db.query(
        `INSERT INTO runs (id, name, method, family, backbone, dataset, backend, host, config, status, tags,
           notes, summary, parent_id, resumed_from, created_at, started_at, heartbeat_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11::text[], $12, $13::jsonb, $14, $15,
           COALESCE($16::timestamptz, now()),
           CASE WHEN $10 = 'running' THEN now() END, CASE WHEN $10 = 'running' THEN now() END)
         RETURNING ${RUN_COLUMNS}`,
        [
          id,
          name,
          v.method,
          v.family ?? null,
          v.backbone ?? null,
          v.dataset ?? null,
          v.backend ?? null,
          v.host ?? null,
          JSON.stringify(v.config ?? {}),
          status,
          unique(v.tags ?? []),
          v.notes ?? null,
          JSON.stringify(v.summary ?? {}),
          v.parentId ?? null,
          v.resumedFrom ?? null,
          v.createdAt ?? null,
        ],
      );
      return toRun(rows[0]);
    } catch (err) {
      if (pgCode(err) === "23505") throw new StoreError("conflict", `id: run ${id} already exists`, "id");
      if (pgCode(err) === "23503") {
        const field = /parent_id/.test(String((err as Error).message)) ? "parentId" : "resumedFrom";
        throw new StoreError("not_found", `${field}: no such run`, field);
      }
      throw err;
    }
  }

  /** The run, or null when there is none with this id. */
  async getRun(id: string): Promise<Run | null> {
    const runId = parse(idSchema, id, "run id", "id");
    const rows = await this.db.query(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [runId]);
    return rows.length ? toRun(rows[0]) : null;
  }

  /**
   * A worker took the run: status running, heartbeat now. started_at keeps its first value, so a
   * resumed run's relative times still count from its real start; error and finished_at are
   * cleared. Refused (conflict) for a cancelled run, so a cancel that raced the queue wins.
   */
  async markStarted(id: string, info: { host?: string | null; backend?: string | null } = {}): Promise<Run> {
    const runId = parse(idSchema, id, "run id", "id");
    const v = parse(startSchema, info, "markStarted input");
    const rows = await this.db.query(
      `UPDATE runs SET status = 'running', started_at = COALESCE(started_at, now()), heartbeat_at = now(),
         finished_at = NULL, error = NULL, host = COALESCE($2, host), backend = COALESCE($3, backend)
       WHERE id = $1 AND status <> 'cancelled'
       RETURNING ${RUN_COLUMNS}`,
      [runId, v.host ?? null, v.backend ?? null],
    );
    if (rows.length) return toRun(rows[0]);
    await this.requireRun(runId);
    throw new StoreError("conflict", `id: run ${runId} was cancelled; not starting it`, "id");
  }

  /**
   * Records that a running run is alive (heartbeat_at = now()) and returns its current status, so
   * a worker learns of a cancel at its next heartbeat (status 'cancelled': stop training).
   */
  async heartbeat(id: string): Promise<RunStatus> {
    const runId = parse(idSchema, id, "run id", "id");
    const rows = await this.db.query<{ status: RunStatus }>(
      `WITH beat AS (UPDATE runs SET heartbeat_at = now() WHERE id = $1 AND status = 'running' RETURNING id)
       SELECT status FROM runs WHERE id = $1`,
      [runId],
    );
    if (!rows.length) throw notFound(runId);
    return rows[0].status;
  }

  /**
   * Ends a run: terminal status, finished_at, summary merged in, error (or null). A run the user
   * cancelled stays cancelled whatever the worker reports (its summary is still merged); a run
   * markStaleRuns failed can still be finished by a worker that was only slow.
   */
  async finishRun(id: string, input: FinishRunInput): Promise<Run> {
    const runId = parse(idSchema, id, "run id", "id");
    const v = parse(finishSchema, input, "finishRun input");
    const rows = await this.db.query(
      `UPDATE runs SET
         status = CASE WHEN status = 'cancelled' THEN status ELSE $2 END,
         error = CASE WHEN status = 'cancelled' THEN error ELSE $4 END,
         finished_at = CASE WHEN status = 'cancelled' THEN COALESCE(finished_at, now()) ELSE now() END,
         summary = summary || $3::jsonb
       WHERE id = $1
       RETURNING ${RUN_COLUMNS}`,
      [runId, v.status, JSON.stringify(v.summary ?? {}), v.error ?? null],
    );
    if (!rows.length) throw notFound(runId);
    return toRun(rows[0]);
  }

  /** Cancels a queued or running run; a run already ended is returned unchanged. */
  async cancelRun(id: string): Promise<Run> {
    const runId = parse(idSchema, id, "run id", "id");
    const rows = await this.db.query(
      `UPDATE runs SET status = 'cancelled', finished_at = now()
       WHERE id = $1 AND status IN ('queued', 'running')
       RETURNING ${RUN_COLUMNS}`,
      [runId],
    );
    if (rows.length) return toRun(rows[0]);
    return this.requireRun(runId);
  }

  /** Deletes a run and everything it owns (metrics, evaluations, checkpoints rows, artifacts). */
  async deleteRun(id: string): Promise<boolean> {
    const runId = parse(idSchema, id, "run id", "id");
    const rows = await this.db.query("DELETE FROM runs WHERE id = $1 RETURNING id", [runId]);
    return rows.length > 0;
  }

  /** Merges numbers into the run's summary (keys given win); returns the whole summary. */
  async updateSummary(id: string, patch: Record<string, number>): Promise<Record<string, number>> {
    const runId = parse(idSchema, id, "run id", "id");
    const v = parse(summarySchema, patch, "summary", "summary");
    const rows = await this.db.query<{ summary: Record<string, number> }>(
      "UPDATE runs SET summary = summary || $2::jsonb WHERE id = $1 RETURNING summary",
      [runId, JSON.stringify(v)],
    );
    if (!rows.length) throw notFound(runId);
    return rows[0].summary;
  }

  /** Replaces the run's tags (duplicates dropped, order kept); returns them. */
  async setTags(id: string, tags: string[]): Promise<string[]> {
    const runId = parse(idSchema, id, "run id", "id");
    const v = parse(tagsSchema, tags, "tags", "tags");
    return this.updateTags(runId, "$2::text[]", unique(v));
  }

  /** Adds one tag unless present; returns the run's tags. */
  async addTag(id: string, tag: string): Promise<string[]> {
    const runId = parse(idSchema, id, "run id", "id");
    const v = parse(tagSchema, tag, "tag", "tag");
    return this.updateTags(
      runId,
      "CASE WHEN $2 = ANY(tags) THEN tags ELSE array_append(tags, $2::text) END",
      v,
    );
  }

  /** Removes one tag if present; returns the run's tags. */
  async removeTag(id: string, tag: string): Promise<string[]> {
    const runId = parse(idSchema, id, "run id", "id");
    const v = parse(tagSchema, tag, "tag", "tag");
    return this.updateTags(runId, "array_remove(tags, $2::text)", v);
  }

  private async updateTags(runId: string, expr: string, value: SqlValue): Promise<string[]> {
    const rows = await this.db.query<{ tags: string[] }>(
      `UPDATE runs SET tags = ${expr} WHERE id = $1 RETURNING tags`,
      [runId, value],
    );
    if (!rows.length) throw notFound(runId);
    return rows[0].tags;
  }

  /** Sets (or with null clears) the run's free-text notes. */
  async setNote(id: string, notes: string | null): Promise<void> {
    const runId = parse(idSchema, id, "run id", "id");
    const v = parse(noteSchema, notes, "notes", "notes");
    const rows = await this.db.query("UPDATE runs SET notes = $2 WHERE id = $1 RETURNING id", [runId, v]);
    if (!rows.length) throw notFound(runId);
  }

  /**
   * One page of runs, filtered and sorted, with keyset pagination: `after` is the previous page's
   * endCursor. Pages are stable under ties (id breaks them) and under inserts elsewhere in the
   * order; no OFFSET, so deep pages cost the same as the first.
   */
  async listRuns(options: ListRunsOptions = {}): Promise<RunPage> {
    const v = parse(listRunsSchema, options, "listRuns options");
    const field = v.orderBy?.field ?? "created_at";
    const direction = v.orderBy?.direction ?? (v.orderBy ? "asc" : "desc");
    const first = v.first ?? DEFAULT_PAGE_SIZE;
    const p = new Params();
    const where = filterClauses(v.filter ?? {}, p);
    const order = orderSpec(field, p);
    const dir = direction === "asc" ? "ASC" : "DESC";
    const cmp = direction === "asc" ? ">" : "<";
    if (v.after) {
      const c = decodeCursor(v.after, field, direction);
      if (!ID_LIKE.test(c.id))
        throw new StoreError("invalid_input", "after: not a cursor returned by listRuns", "after");
      const id = p.add(c.id);
      if (c.v === null) {
        if (!order.nullable)
          throw new StoreError("invalid_input", "after: not a cursor returned by listRuns", "after");
        where.push(`(${order.expr} IS NULL AND id ${cmp} ${id})`);
      } else {
        const val = `${p.add(c.v)}${order.cast}`;
        where.push(
          order.nullable
            ? `((${order.expr} ${cmp} ${val}) OR (${order.expr} = ${val} AND id ${cmp} ${id}) OR ${order.expr} IS NULL)`
            : `((${order.expr}, id) ${cmp} (${val}, ${id}))`,
        );
      }
    }
    const limit = p.add(first + 1);
    const nulls = order.nullable ? " NULLS LAST" : "";
    const rows = await this.db.query(
      `SELECT ${RUN_COLUMNS}, ${order.cursorExpr} AS sort_value FROM runs
       ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY ${order.expr} ${dir}${nulls}, id ${dir}
       LIMIT ${limit}`,
      p.values,
    );
    const hasNextPage = rows.length > first;
    const page = rows.slice(0, first);
    const last = page[page.length - 1];
    const endCursor = last
      ? encodeCursor({ f: field, d: direction, v: sortValue(last.sort_value), id: String(last.id) })
      : null;
    return { runs: page.map(toRun), pageInfo: { hasNextPage, endCursor } };
  }

  /** How many runs match the filter (for "N runs" and GraphQL totalCount). */
  async countRuns(filter: RunFilter = {}): Promise<number> {
    const v = parse(runFilterSchema, filter, "filter", "filter");
    const p = new Params();
    const where = filterClauses(v, p);
    const rows = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""}`,
      p.values,
    );
    return Number(rows[0].n);
  }

  /**
   * Fails running runs whose heartbeat (or, lacking one, start) is older than `olderThanMs`:
   * status failed, error 'stale heartbeat'. Compared on the database clock, so hosts' clock skew
   * does not matter. Returns the ids it failed.
   */
  async markStaleRuns(olderThanMs: number): Promise<string[]> {
    const ms = parse(olderThanSchema, olderThanMs, "olderThanMs", "olderThanMs");
    const rows = await this.db.query<{ id: string }>(
      `UPDATE runs SET status = 'failed', error = 'stale heartbeat', finished_at = now()
       WHERE status = 'running'
         AND COALESCE(heartbeat_at, started_at, created_at) < now() - $1::float8 * interval '1 millisecond'
       RETURNING id`,
      [ms],
    );
    return rows.map((r) => r.id).sort();
  }

  // ---------------------------------------------------------------- metrics

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

  // ---------------------------------------------------------------- results

  /** Records an evaluation result; the same (run, protocol, labels, seed, metric) replaces the value. */
  async addEvaluation(input: EvaluationInput): Promise<Evaluation> {
    const v = parse(evaluationSchema, input, "evaluation");
    try {
      const rows = await this.db.query(
        `INSERT INTO evaluations (run_id, protocol, labels_per_class, seed, metric, value)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT ON CONSTRAINT evaluations_unique DO UPDATE SET value = EXCLUDED.value, created_at = now()
         RETURNING id, run_id, protocol, labels_per_class, seed, metric, value, created_at`,
        [v.runId, v.protocol, v.labelsPerClass ?? null, v.seed ?? 0, v.metric, v.value],
      );
      return toEvaluation(rows[0]);
    } catch (err) {
      if (pgCode(err) === "23503") throw notFound(v.runId, "runId");
      throw err;
    }
  }

  /** A run's evaluations, by protocol, labels, metric, seed. */
  async getEvaluations(runId: string): Promise<Evaluation[]> {
    const id = parse(idSchema, runId, "run id", "runId");
    const rows = await this.db.query(
      `SELECT id, run_id, protocol, labels_per_class, seed, metric, value, created_at FROM evaluations
       WHERE run_id = $1 ORDER BY protocol, labels_per_class NULLS LAST, metric, seed`,
      [id],
    );
    return rows.map(toEvaluation);
  }

  /**
   * Best run per method (and label budget) on a dataset for one protocol and metric. A run's score
   * is the mean over its seeds; entries come sorted by label budget, then best first.
   */
  async leaderboard(
    dataset: string,
    protocol: string,
    metric: string,
    options: LeaderboardOptions = {},
  ): Promise<LeaderboardEntry[]> {
    const v = parse(leaderboardSchema, { dataset, protocol, metric, ...options }, "leaderboard input");
    const p = new Params();
    const where = [
      `r.dataset = ${p.add(v.dataset)}`,
      `e.protocol = ${p.add(v.protocol)}`,
      `e.metric = ${p.add(v.metric)}`,
    ];
    if (!v.includeUnfinished) where.push("r.status = 'finished'");
    if (v.labelsPerClass !== undefined) {
      where.push(`e.labels_per_class IS NOT DISTINCT FROM ${p.add(v.labelsPerClass)}::int`);
    }
    const dir = v.lowerIsBetter ? "ASC" : "DESC";
    const rows = await this.db.query(
      `WITH per_run AS (
         SELECT e.run_id, e.labels_per_class, avg(e.value) AS value, stddev_samp(e.value) AS std,
                count(*)::int AS seeds
         FROM evaluations e JOIN runs r ON r.id = e.run_id
         WHERE ${where.join(" AND ")}
         GROUP BY e.run_id, e.labels_per_class
       ),
       best AS (
         SELECT DISTINCT ON (r.method, pr.labels_per_class)
                r.method, r.family, pr.labels_per_class, pr.value, pr.std, pr.seeds, r.id AS run_id,
                r.name AS run_name, r.backbone
         FROM per_run pr JOIN runs r ON r.id = pr.run_id
         ORDER BY r.method, pr.labels_per_class, pr.value ${dir}, pr.seeds DESC, r.id
       )
       SELECT * FROM best ORDER BY labels_per_class NULLS LAST, value ${dir}, method`,
      p.values,
    );
    return rows.map((r) => ({
      method: String(r.method),
      family: (r.family as string | null) ?? null,
      labelsPerClass: r.labels_per_class === null ? null : Number(r.labels_per_class),
      value: Number(r.value),
      std: r.std === null ? null : Number(r.std),
      seeds: Number(r.seeds),
      runId: String(r.run_id),
      runName: String(r.run_name),
      backbone: (r.backbone as string | null) ?? null,
    }));
  }

  /** Records a checkpoint file; the same (run, kind, path) updates step/checksum (a rewritten "latest"). */
  async addCheckpoint(input: CheckpointInput): Promise<Checkpoint> {
    const v = parse(checkpointSchema, input, "checkpoint");
    try {
      const rows = await this.db.query(
        `INSERT INTO checkpoints (run_id, kind, path, step, checksum) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT ON CONSTRAINT checkpoints_unique
         DO UPDATE SET step = EXCLUDED.step, checksum = EXCLUDED.checksum, created_at = now()
         RETURNING id, run_id, kind, path, step, checksum, created_at`,
        [v.runId, v.kind ?? "latest", v.path, v.step, v.checksum ?? null],
      );
      return toCheckpoint(rows[0]);
    } catch (err) {
      if (pgCode(err) === "23503") throw notFound(v.runId, "runId");
      throw err;
    }
  }

  /** The checkpoint with the highest step (of `kind`, or any kind), or null: what resume loads. */
  async latestCheckpoint(runId: string, kind?: "latest" | "best"): Promise<Checkpoint | null> {
    const id = parse(idSchema, runId, "run id", "runId");
    if (kind !== undefined && kind !== "latest" && kind !== "best") {
      throw new StoreError("invalid_input", "kind: must be latest or best", "kind");
    }
    const rows = await this.db.query(
      `SELECT id, run_id, kind, path, step, checksum, created_at FROM checkpoints
       WHERE run_id = $1 AND ($2::text IS NULL OR kind = $2::text)
       ORDER BY step DESC, created_at DESC, id DESC LIMIT 1`,
      [id, kind ?? null],
    );
    return rows.length ? toCheckpoint(rows[0]) : null;
  }

  /** All checkpoints of a run, by step. */
  async listCheckpoints(runId: string): Promise<Checkpoint[]> {
    const id = parse(idSchema, runId, "run id", "runId");
    const rows = await this.db.query(
      `SELECT id, run_id, kind, path, step, checksum, created_at FROM checkpoints
       WHERE run_id = $1 ORDER BY step, id`,
      [id],
    );
    return rows.map(toCheckpoint);
  }

  /**
   * Forgets the checkpoint rows at `paths` (any kind): their directories were pruned or found
   * corrupt, and the table stays true to what is on disk. Returns how many rows went.
   */
  async deleteCheckpoints(runId: string, paths: readonly string[]): Promise<number> {
    const id = parse(idSchema, runId, "run id", "runId");
    if (
      !Array.isArray(paths) ||
      paths.some((p) => typeof p !== "string" || p.length === 0 || p.length > 4096)
    )
      throw new StoreError(
        "invalid_input",
        "paths: must be non-empty strings of at most 4096 characters",
        "paths",
      );
    if (paths.length === 0) return 0;
    const rows = await this.db.query<{ n: number }>(
      `WITH d AS (DELETE FROM checkpoints WHERE run_id = $1 AND path = ANY($2::text[]) RETURNING 1)
       SELECT count(*)::int AS n FROM d`,
      [id, [...paths]],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Stores an image (bytes) or JSON data (scatter points) for the dashboard. The same
   * (run, kind, name) replaces the previous payload.
   */
  async addArtifact(input: ArtifactInput): Promise<Artifact> {
    const v = parse(artifactSchema, input, "artifact");
    let json: string | null = null;
    if (v.bytes === undefined) {
      json = JSON.stringify(v.data);
      if (json === undefined)
        throw new StoreError("invalid_input", "invalid artifact: data: not JSON", "data");
      if (Buffer.byteLength(json) > MAX_ARTIFACT_BYTES) {
        throw new StoreError("invalid_input", "invalid artifact: data: larger than 32 MiB as JSON", "data");
      }
    }
    const bytes =
      v.bytes === undefined ? null : Buffer.from(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength);
    try {
      const rows = await this.db.query(
        `INSERT INTO artifacts (run_id, kind, name, mime, step, bytes, data, size)
         VALUES ($1, $2, $3, $4, $5, $6::bytea, $7::jsonb, $8)
         ON CONFLICT ON CONSTRAINT artifacts_unique DO UPDATE
           SET mime = EXCLUDED.mime, step = EXCLUDED.step, bytes = EXCLUDED.bytes, data = EXCLUDED.data,
               size = EXCLUDED.size, created_at = now()
         RETURNING ${ARTIFACT_COLUMNS}`,
        [
          v.runId,
          v.kind,
          v.name,
          v.mime,
          v.step ?? null,
          bytes,
          json,
          bytes ? bytes.byteLength : Buffer.byteLength(json ?? ""),
        ],
      );
      return toArtifact(rows[0]);
    } catch (err) {
      if (pgCode(err) === "23503") throw notFound(v.runId, "runId");
      throw err;
    }
  }

  /** A run's artifacts (optionally one kind), by kind and name; `includeBytes: false` for a listing. */
  async getArtifacts(
    runId: string,
    options: { kind?: string; includeBytes?: boolean } = {},
  ): Promise<Artifact[]> {
    const id = parse(idSchema, runId, "run id", "runId");
    const kind = options.kind === undefined ? null : parse(keySchema, options.kind, "kind", "kind");
    const cols =
      options.includeBytes === false
        ? ARTIFACT_COLUMNS.replace("bytes,", "NULL::bytea AS bytes,")
        : ARTIFACT_COLUMNS;
    const rows = await this.db.query(
      `SELECT ${cols} FROM artifacts WHERE run_id = $1 AND ($2::text IS NULL OR kind = $2::text)
       ORDER BY kind, name`,
      [id, kind],
    );
    return rows.map(toArtifact);
  }

  /** One artifact by (run, kind, name), or null. */
  async getArtifact(runId: string, kind: string, name: string): Promise<Artifact | null> {
    const id = parse(idSchema, runId, "run id", "runId");
    const k = parse(keySchema, kind, "kind", "kind");
    const rows = await this.db.query(
      `SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE run_id = $1 AND kind = $2 AND name = $3`,
      [id, k, String(name)],
    );
    return rows.length ? toArtifact(rows[0]) : null;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Flushes and closes open metric writers, then closes the database. */
  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const w of [...this.writers]) {
      try {
        await w.close();
      } catch (err) {
        errors.push(err);
      }
    }
    await this.db.close();
    if (errors.length) throw errors[0];
  }

  private async requireRun(runId: string): Promise<Run> {
    const run = await this.getRun(runId);
    if (!run) throw notFound(runId);
    return run;
  }
}

const ID_LIKE = /^[A-Za-z0-9_-]{1,64}$/;

const ARTIFACT_COLUMNS = "id, run_id, kind, name, mime, step, bytes, data, size, created_at";

function filterClauses(f: ReturnType<typeof runFilterSchema.parse>, p: Params): string[] {
  const where: string[] = [];
  if (f.method !== undefined) where.push(`method = ${p.add(f.method)}`);
  if (f.family !== undefined) where.push(`family = ${p.add(f.family)}`);
  if (f.dataset !== undefined) where.push(`dataset = ${p.add(f.dataset)}`);
  if (f.backbone !== undefined) where.push(`backbone = ${p.add(f.backbone)}`);
  if (f.status !== undefined) where.push(`status = ANY(${p.add(f.status)}::text[])`);
  if (f.tag !== undefined) where.push(`tags @> ARRAY[${p.add(f.tag)}::text]`);
  if (f.search !== undefined && f.search.trim() !== "") {
    const pattern = p.add(`%${f.search.trim().replace(/[\\%_]/g, "\\$&")}%`);
    where.push(`(name ILIKE ${pattern} OR method ILIKE ${pattern} OR COALESCE(notes, '') ILIKE ${pattern})`);
  }
  if (f.createdFrom !== undefined) where.push(`created_at >= ${p.add(f.createdFrom)}::timestamptz`);
  if (f.createdTo !== undefined) where.push(`created_at < ${p.add(f.createdTo)}::timestamptz`);
  return where;
}

/** Timestamps go through cursors as ISO text with microseconds (a JS Date would drop them). */
const tsCursor = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

function orderSpec(field: string, p: Params): OrderSpec {
  switch (field) {
    case "created_at":
      return {
        expr: "created_at",
        nullable: false,
        cursorExpr: tsCursor("created_at"),
        cast: "::timestamptz",
      };
    case "started_at":
    case "finished_at":
      return { expr: field, nullable: true, cursorExpr: tsCursor(field), cast: "::timestamptz" };
    case "name":
      return { expr: "name", nullable: false, cursorExpr: "name", cast: "::text" };
    default: {
      const key = p.add(field.slice("summary:".length));
      const expr = `(CASE WHEN jsonb_typeof(summary -> ${key}::text) = 'number' THEN (summary ->> ${key}::text)::float8 END)`;
      return { expr, nullable: true, cursorExpr: expr, cast: "::float8" };
    }
  }
}

function sortValue(v: unknown): string | number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "string") return v;
  return String(v);
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

function pgCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

function notFound(runId: string, field = "id"): StoreError {
  return new StoreError("not_found", `${field}: run ${runId} not found`, field);
}

function date(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}

function dateOrNull(v: unknown): Date | null {
  return v === null || v === undefined ? null : date(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function toRun(r: Row): Run {
  return {
    id: String(r.id),
    name: String(r.name),
    method: String(r.method),
    family: strOrNull(r.family),
    backbone: strOrNull(r.backbone),
    dataset: strOrNull(r.dataset),
    backend: strOrNull(r.backend),
    host: strOrNull(r.host),
    config: (r.config ?? {}) as Record<string, unknown>,
    status: r.status as RunStatus,
    error: strOrNull(r.error),
    tags: (r.tags ?? []) as string[],
    notes: strOrNull(r.notes),
    summary: (r.summary ?? {}) as Record<string, number>,
    parentId: strOrNull(r.parent_id),
    resumedFrom: strOrNull(r.resumed_from),
    createdAt: date(r.created_at),
    startedAt: dateOrNull(r.started_at),
    finishedAt: dateOrNull(r.finished_at),
    heartbeatAt: dateOrNull(r.heartbeat_at),
  };
}

function toEvaluation(r: Row): Evaluation {
  return {
    id: Number(r.id),
    runId: String(r.run_id),
    protocol: String(r.protocol),
    labelsPerClass: r.labels_per_class === null ? null : Number(r.labels_per_class),
    seed: Number(r.seed),
    metric: String(r.metric),
    value: Number(r.value),
    createdAt: date(r.created_at),
  };
}

function toCheckpoint(r: Row): Checkpoint {
  return {
    id: Number(r.id),
    runId: String(r.run_id),
    kind: r.kind as "latest" | "best",
    path: String(r.path),
    step: Number(r.step),
    checksum: strOrNull(r.checksum),
    createdAt: date(r.created_at),
  };
}

function toArtifact(r: Row): Artifact {
  const bytes = r.bytes;
  return {
    id: Number(r.id),
    runId: String(r.run_id),
    kind: String(r.kind),
    name: String(r.name),
    mime: String(r.mime),
    step: r.step === null ? null : Number(r.step),
    bytes:
      bytes instanceof Uint8Array ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : null,
    data: r.data ?? null,
    size: Number(r.size),
    createdAt: date(r.created_at),
  };
}
