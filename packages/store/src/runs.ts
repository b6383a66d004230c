import { decodeCursor, encodeCursor } from "./cursor.js";
import type { Db, Row, SqlValue } from "./db-types.js";
import { notFound, StoreError } from "./errors.js";
import { newId } from "./id.js";
import { RUN_COLUMNS, RUN_LISTING_COLUMNS, toRun, toRunListing } from "./rows.js";
import {
  createRunSchema,
  DEFAULT_PAGE_SIZE,
  finishSchema,
  groupRunsSchema,
  idSchema,
  listRunsSchema,
  noteSchema,
  olderThanSchema,
  parse,
  type RunStatus,
  runFilterSchema,
  startSchema,
  summarySchema,
  tagSchema,
  tagsSchema,
} from "./schemas.js";
import { Params, pgCode, unique } from "./sql-util.js";
import type {
  CreateRunInput,
  FinishRunInput,
  GroupRunsOptions,
  ListRunsOptions,
  Run,
  RunFilter,
  RunGroup,
  RunListing,
  RunPage,
} from "./types.js";

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
 * Runs: create, lifecycle (start, heartbeat, finish, cancel, stale), tags, notes, summary, and the
 * runs page's queries (filtered, sorted, keyset-paginated listing and the count).
 */
export class RunsRepo {
  constructor(private readonly db: Db) {}

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
  listRuns(options: ListRunsOptions = {}): Promise<RunPage> {
    return this.list(options, RUN_COLUMNS, toRun);
  }

  /** listRuns without each run's config (large JSON, not read at all), for lists that do not show it. */
  listRunListings(options: ListRunsOptions = {}): Promise<RunPage<RunListing>> {
    return this.list(options, RUN_LISTING_COLUMNS, toRunListing);
  }

  private async list<R extends RunListing>(
    options: ListRunsOptions,
    columns: string,
    toRow: (r: Row) => R,
  ): Promise<RunPage<R>> {
    const v = parse(listRunsSchema, options, "listRuns options");
    const field = v.orderBy?.field ?? "created_at";
    const direction = v.orderBy?.direction ?? (v.orderBy ? "asc" : "desc");
    const first = v.first ?? DEFAULT_PAGE_SIZE;
    if (field.startsWith("summary:")) {
      return this.listRunsBySummary(v, field.slice("summary:".length), direction, first, columns, toRow);
    }
    const p = new Params();
    const where = filterClauses(v.filter ?? {}, p);
    const order = orderSpec(field);
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
      `SELECT ${columns}, ${order.cursorExpr} AS sort_value FROM runs
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
    return { runs: page.map(toRow), pageInfo: { hasNextPage, endCursor } };
  }

  /**
   * listRuns sorted by a summary number, through run_summary's (key, value, run_id) index: first
   * the runs that have the key, in value order (keyset on (value, id)), then those without it by
   * id (cursor value null), so a page reads about `first` index entries instead of sorting every
   * run by a value pulled out of JSON.
   */
  private async listRunsBySummary<R extends RunListing>(
    v: ReturnType<typeof listRunsSchema.parse>,
    key: string,
    direction: "asc" | "desc",
    first: number,
    columns: string,
    toRow: (r: Row) => R,
  ): Promise<RunPage<R>> {
    const field = `summary:${key}` as const;
    const dir = direction === "asc" ? "ASC" : "DESC";
    const cmp = direction === "asc" ? ">" : "<";
    let cursor: { v: string | number | null; id: string } | undefined;
    if (v.after) {
      const c = decodeCursor(v.after, field, direction);
      if (!ID_LIKE.test(c.id) || (c.v !== null && typeof c.v !== "number"))
        throw new StoreError("invalid_input", "after: not a cursor returned by listRuns", "after");
      cursor = c;
    }
    const rows: Row[] = [];
    if (!cursor || cursor.v !== null) {
      const p = new Params();
      const where = filterClauses(v.filter ?? {}, p);
      where.push(`s.key = ${p.add(key)}`);
      if (cursor) where.push(`(s.value, s.run_id) ${cmp} (${p.add(cursor.v)}::float8, ${p.add(cursor.id)})`);
      rows.push(
        ...(await this.db.query(
          `SELECT ${columns}, s.value AS sort_value FROM run_summary s JOIN runs ON runs.id = s.run_id
           WHERE ${where.join(" AND ")}
           ORDER BY s.value ${dir}, s.run_id ${dir} LIMIT ${p.add(first + 1)}`,
          p.values,
        )),
      );
    }
    if (rows.length <= first) {
      const p = new Params();
      const where = filterClauses(v.filter ?? {}, p);
      where.push(
        `NOT EXISTS (SELECT 1 FROM run_summary s WHERE s.run_id = runs.id AND s.key = ${p.add(key)})`,
      );
      if (cursor?.v === null) where.push(`id ${cmp} ${p.add(cursor.id)}`);
      rows.push(
        ...(await this.db.query(
          `SELECT ${columns}, NULL::float8 AS sort_value FROM runs WHERE ${where.join(" AND ")}
           ORDER BY id ${dir} LIMIT ${p.add(first + 1 - rows.length)}`,
          p.values,
        )),
      );
    }
    const hasNextPage = rows.length > first;
    const page = rows.slice(0, first);
    const last = page[page.length - 1];
    const endCursor = last
      ? encodeCursor({ f: field, d: direction, v: sortValue(last.sort_value), id: String(last.id) })
      : null;
    return { runs: page.map(toRow), pageInfo: { hasNextPage, endCursor } };
  }

  /**
   * Runs grouped by a column or a config value (`config:optimizer.lr`), each group with the mean,
   * sample std, min and max of one summary number over its runs: seeds of one setting side by
   * side. Largest mean first (groups without the metric last).
   */
  async groupRuns(options: GroupRunsOptions): Promise<RunGroup[]> {
    const v = parse(groupRunsSchema, options, "groupRuns options");
    const p = new Params();
    const where = filterClauses(v.filter ?? {}, p);
    const by = v.by.startsWith("config:")
      ? `(config #>> ${p.add(v.by.slice("config:".length).split("."))}::text[])`
      : v.by;
    const metric = p.add(v.metric);
    const rows = await this.db.query(
      `SELECT ${by} AS value, count(*)::int AS runs, count(s.value)::int AS n, avg(s.value) AS mean,
              stddev_samp(s.value) AS std, min(s.value) AS min, max(s.value) AS max
       FROM runs LEFT JOIN run_summary s ON s.run_id = runs.id AND s.key = ${metric}
       ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       GROUP BY 1 ORDER BY 4 DESC NULLS LAST, 1 LIMIT ${p.add(v.limit ?? 200)}`,
      p.values,
    );
    const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));
    return rows.map((r) => ({
      value: r.value === null || r.value === undefined ? null : String(r.value),
      runs: Number(r.runs),
      n: Number(r.n),
      mean: num(r.mean),
      std: num(r.std),
      min: num(r.min),
      max: num(r.max),
    }));
  }

  /** How many runs match the filter (for "N runs" and GraphQL totalCount). */
  async countRuns(filter: RunFilter = {}): Promise<number> {
    const v = parse(runFilterSchema, filter, "filter", "filter");
    const p = new Params();
    const onlyCounted = Object.entries(v).every(
      ([k, x]) =>
        x === undefined ||
        k === "method" ||
        k === "status" ||
        (k === "search" && typeof x === "string" && x.trim() === ""),
    );
    if (onlyCounted) {
      // Total, or filtered by method / status only: sum the counters (migration 007).
      const where: string[] = [];
      if (v.method !== undefined) where.push(`method = ${p.add(v.method)}`);
      if (v.status !== undefined) where.push(`status = ANY(${p.add(v.status)}::text[])`);
      const rows = await this.db.query<{ n: number }>(
        `SELECT COALESCE(sum(n), 0)::int AS n FROM runs_count ${where.length ? `WHERE ${where.join(" AND ")}` : ""}`,
        p.values,
      );
      return Number(rows[0].n);
    }
    const where = filterClauses(v, p);
    const rows = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM runs WHERE ${where.join(" AND ")}`,
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

  /** The run, or a not_found StoreError. */
  async requireRun(runId: string): Promise<Run> {
    const run = await this.getRun(runId);
    if (!run) throw notFound(runId);
    return run;
  }
}

const ID_LIKE = /^[A-Za-z0-9_-]{1,64}$/;

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
    where.push(`(name ILIKE ${pattern} OR method ILIKE ${pattern} OR notes ILIKE ${pattern})`);
  }
  if (f.createdFrom !== undefined) where.push(`created_at >= ${p.add(f.createdFrom)}::timestamptz`);
  if (f.createdTo !== undefined) where.push(`created_at < ${p.add(f.createdTo)}::timestamptz`);
  return where;
}

/** Timestamps go through cursors as ISO text with microseconds (a JS Date would drop them). */
const tsCursor = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

function orderSpec(field: string): OrderSpec {
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
    default:
      // summary:<key> goes through listRunsBySummary.
      throw new StoreError("invalid_input", `orderBy.field: cannot sort by ${field} here`, "orderBy.field");
  }
}

function sortValue(v: unknown): string | number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "string") return v;
  return String(v);
}
