import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { StoreError } from "./errors.js";

/**
 * A value we send as a query parameter. Both drivers turn JS arrays into Postgres arrays, Dates
 * into timestamptz and Uint8Arrays into bytea. JSON goes as a string with an explicit `::jsonb`
 * cast, because the drivers disagree on how to serialize plain objects.
 */
export type SqlValue = string | number | boolean | null | Date | Uint8Array | readonly SqlValue[];

/** A result row as the driver returns it; the repository maps rows to typed objects. */
export type Row = Record<string, unknown>;

/** Which engine is behind a Db. */
export type DriverName = "pglite" | "pg";

/**
 * The small surface the store needs from a database, so the same SQL runs on embedded PGlite and
 * on a real PostgreSQL server. Note the drivers differ in how they return `bigint` (PGlite:
 * number, pg: string) and `numeric` (string in both): callers cast in SQL or convert with Number().
 */
export interface Db {
  readonly driver: DriverName;
  /** One statement, `$1`-style parameters; returns the rows. */
  query<T = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Several `;`-separated statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /**
   * Runs `fn` in one transaction on one connection: committed if it resolves, rolled back if it
   * throws. Use only the `tx` handed to `fn` inside it. A nested call on `tx` joins the outer
   * transaction (no savepoint).
   */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /** Releases the connection(s) / shuts the embedded database down. Safe to call twice. */
  close(): Promise<void>;
}

interface Queryable {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<unknown>;
}

/** Wraps a PGlite transaction (or the instance itself) as a Db that joins on nested transaction(). */
class PgliteTxDb implements Db {
  readonly driver = "pglite" as const;
  constructor(private readonly q: Queryable) {}
  async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const res = await this.q.query<T>(sql, params as unknown[]);
    return res.rows;
  }
  async exec(sql: string): Promise<void> {
    await this.q.exec(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {
    // The outer Db owns the instance.
  }
}

class PgliteDb implements Db {
  readonly driver = "pglite" as const;
  private closed = false;
  constructor(private readonly pglite: PGlite) {}
  async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const res = await this.pglite.query<T>(sql, params as unknown[]);
    return res.rows;
  }
  async exec(sql: string): Promise<void> {
    await this.pglite.exec(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.pglite.transaction((tx) => fn(new PgliteTxDb(tx)));
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pglite.close();
  }
}

/** One checked-out pg client inside a transaction. */
class PgClientDb implements Db {
  readonly driver = "pg" as const;
  constructor(private readonly client: pg.PoolClient) {}
  async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const res = await this.client.query(sql, params as unknown[]);
    return res.rows as T[];
  }
  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {}
}

class PgPoolDb implements Db {
  readonly driver = "pg" as const;
  private closed = false;
  constructor(private readonly pool: pg.Pool) {}
  async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const res = await this.pool.query(sql, params as unknown[]);
    return res.rows as T[];
  }
  async exec(sql: string): Promise<void> {
    // Without parameters pg uses the simple protocol, which accepts several statements.
    await this.pool.query(sql);
  }
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await fn(new PgClientDb(client));
      await client.query("COMMIT");
      return result;
    } catch (err) {
      try {
        await client.query("ROLLBACK");
      } catch (rollbackErr) {
        // The connection is unusable; make the pool discard it rather than reuse it.
        broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** Where the store lives; see {@link resolveTarget} for how options and environment pick one. */
export type DbTarget =
  | { kind: "pg"; url: string }
  | { kind: "pglite"; dataDir: string }
  | { kind: "pglite-memory" };

export interface OpenDbOptions {
  /** `postgres://` / `postgresql://` (server), `memory://` (in-memory PGlite) or `file://<dir>` (PGlite). */
  url?: string;
  /** Directory for the embedded PGlite database. */
  dataDir?: string;
  /**
   * Postgres schema to keep the tables in (created if missing; search_path points at it). Lets
   * several stores share one database, e.g. one per test suite. Default: the server's search_path
   * (normally `public`).
   */
  schema?: string;
  /** Max pool size for the pg driver (default 10). Ignored for PGlite, which has one connection. */
  poolSize?: number;
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Picks the database. Precedence: explicit `url`, then explicit `dataDir`, then the
 * `DATABASE_URL` environment variable (a team's shared PostgreSQL), then the default embedded
 * database at `${SELFSUP_HOME ?? '.selfsup'}/db`.
 */
export function resolveTarget(options: OpenDbOptions = {}, env: NodeJS.ProcessEnv = process.env): DbTarget {
  if (options.url !== undefined) return parseUrl(options.url, "url");
  if (options.dataDir !== undefined) {
    if (options.dataDir.trim() === "")
      throw new StoreError("invalid_input", "dataDir: must not be empty", "dataDir");
    return { kind: "pglite", dataDir: resolve(options.dataDir) };
  }
  const envUrl = env.DATABASE_URL;
  if (envUrl !== undefined && envUrl !== "") return parseUrl(envUrl, "DATABASE_URL");
  return { kind: "pglite", dataDir: resolve(join(env.SELFSUP_HOME || ".selfsup", "db")) };
}

function parseUrl(url: string, field: string): DbTarget {
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: "pg", url };
  if (/^memory:\/\//i.test(url)) return { kind: "pglite-memory" };
  if (/^file:\/\//i.test(url)) {
    const dir = decodeURIComponent(url.slice("file://".length));
    if (dir === "") throw new StoreError("invalid_input", `${field}: file:// URL has no path`, field);
    return { kind: "pglite", dataDir: resolve(dir) };
  }
  throw new StoreError(
    "invalid_input",
    `${field}: unsupported database URL scheme in ${JSON.stringify(redact(url))}; use postgres://, postgresql://, memory:// or file://`,
    field,
  );
}

/** Hides a password in a URL before it goes into an error message. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, "$1***@");
}

/** Opens a Db for the target (no migrations; see openStore for that). */
export async function openDb(options: OpenDbOptions = {}): Promise<Db> {
  const target = resolveTarget(options);
  const schema = options.schema;
  if (schema !== undefined && !SCHEMA_RE.test(schema)) {
    throw new StoreError(
      "invalid_input",
      `schema: must match ${SCHEMA_RE} (got ${JSON.stringify(schema)})`,
      "schema",
    );
  }
  if (target.kind === "pg") {
    const poolSize = options.poolSize ?? 10;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 100) {
      throw new StoreError("invalid_input", "poolSize: must be an integer in 1..100", "poolSize");
    }
    const pool = new pg.Pool({
      connectionString: target.url,
      max: poolSize,
      // Set at connection start-up, so every pooled connection sees the same schema.
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    // An idle client losing its server connection must not crash the process; pg drops it.
    pool.on("error", () => {});
    return new PgPoolDb(pool);
  }
  let pglite: PGlite;
  if (target.kind === "pglite") {
    mkdirSync(target.dataDir, { recursive: true });
    pglite = await PGlite.create({ dataDir: target.dataDir });
  } else {
    pglite = await PGlite.create();
  }
  const db = new PgliteDb(pglite);
  if (schema) {
    // search_path tolerates a missing schema; migrate() creates it under its lock.
    await db.exec(`SET search_path TO ${schema}`);
  }
  return db;
}
