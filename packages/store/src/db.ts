import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { StoreError, StoreUnavailableError } from "./errors.js";
import {
  type LockFileState,
  lockLiveness,
  lockPathFor,
  ownLockInfo,
  readLockFile,
  removeLockIfOurs,
  removeStaleLock,
  rewriteLock,
  type StoreLockInfo,
  tryCreateLock,
} from "./lock.js";
import { SessionGate, ShareServer } from "./share.js";

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
  /**
   * For an embedded directory store: whether this process hosts it (holds the lock, and serves it
   * on loopback when `port` is set) or is a client of the process that does. Absent otherwise.
   */
  readonly sharing?: SharingInfo;
}

/** How this process reaches a PGlite directory (see {@link Db.sharing}). */
export interface SharingInfo {
  /** `host`: this process holds `<dataDir>.lock` and opened the directory; `client`: it talks to the host. */
  role: "host" | "client";
  dataDir: string;
  lockPath: string;
  /** Loopback port the host serves on (absent for a host opened with `share: false`). */
  port?: number;
  /** The hosting process. */
  hostPid: number;
  hostCommand: string;
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

/** What a hosted directory store holds besides PGlite: the lock, and the loopback server when shared. */
interface Hosting {
  sharing: SharingInfo;
  lockPath: string;
  lock: StoreLockInfo;
  server?: ShareServer;
  gate?: SessionGate;
}

class PgliteDb implements Db {
  readonly driver = "pglite" as const;
  readonly sharing: SharingInfo | undefined;
  private closed = false;
  private readonly gate: SessionGate | undefined;
  constructor(
    private readonly pglite: PGlite,
    private readonly hosting?: Hosting,
  ) {
    this.sharing = hosting?.sharing;
    this.gate = hosting?.gate;
  }
  async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    const run = async () => (await this.pglite.query<T>(sql, params as unknown[])).rows;
    return this.gate ? this.gate.run("host", run) : run();
  }
  async exec(sql: string): Promise<void> {
    const run = async () => {
      await this.pglite.exec(sql);
    };
    return this.gate ? this.gate.run("host", run) : run();
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    // The whole transaction is one turn: no socket client's statement can land inside it.
    const run = () => this.pglite.transaction((tx) => fn(new PgliteTxDb(tx)));
    return this.gate ? this.gate.run("host", run) : run();
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // Disconnect clients first (their open transactions roll back), then shut PGlite down.
      await this.hosting?.server?.stop();
      await this.pglite.close();
    } finally {
      if (this.hosting) releaseHosting(this.hosting);
    }
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

/**
 * A client of a directory store hosted by another process: pg through the host's loopback socket,
 * one connection (PGlite has one session; the host runs one turn at a time anyway). Connection
 * failures become a StoreUnavailableError that says whether the host exited.
 */
class SharedClientDb implements Db {
  readonly driver = "pg" as const;
  private readonly inner: PgPoolDb;
  constructor(
    pool: pg.Pool,
    readonly sharing: SharingInfo,
    private readonly holder: StoreLockInfo,
  ) {
    this.inner = new PgPoolDb(pool);
  }
  async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    try {
      return await this.inner.query<T>(sql, params);
    } catch (err) {
      throw this.translate(err);
    }
  }
  async exec(sql: string): Promise<void> {
    try {
      await this.inner.exec(sql);
    } catch (err) {
      throw this.translate(err);
    }
  }
  async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    try {
      return await this.inner.transaction(fn);
    } catch (err) {
      throw this.translate(err);
    }
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  /** A lost connection becomes an error that says what happened to the host; anything else passes. */
  private translate(err: unknown): unknown {
    if (err instanceof StoreError || !isConnectionError(err)) return err;
    const { dataDir, lockPath } = this.sharing;
    const h = this.holder;
    const who = `pid ${h.pid}, ${JSON.stringify(h.command)}`;
    const cur = readLockFile(lockPath);
    const sameLock = cur.kind === "ok" && cur.info.pid === h.pid && cur.info.startedAt === h.startedAt;
    const alive = lockLiveness(h, hostedHere.has(lockPath)) === "alive";
    const details = { dataDir, holderPid: h.pid };
    if (!alive) {
      return new StoreUnavailableError(
        "host_exited",
        `the selfsup process that hosted ${dataDir} (${who}) has exited; reopen the store`,
        details,
      );
    }
    if (!sameLock) {
      return new StoreUnavailableError(
        "host_exited",
        `the selfsup process that hosted ${dataDir} (${who}) has closed it; reopen the store`,
        details,
      );
    }
    const msg = err instanceof Error ? err.message : String(err);
    return new StoreUnavailableError(
      "host_unreachable",
      `lost the connection to the selfsup process that hosts ${dataDir} (${who}, port ${h.port}): ${msg}. ` +
        `It may be busy in a long synchronous step or stopped; retry, or reopen the store (if no selfsup process hosts it, delete ${lockPath})`,
      details,
    );
  }
}

const CONNECTION_ERROR_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  // PostgreSQL: the server is shutting down, restarting or not yet accepting connections.
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
]);

function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  if (code && CONNECTION_ERROR_CODES.has(code)) return true;
  return /connection terminated|connection timeout|timeout exceeded when trying to connect|connection error|not queryable|connection ended/i.test(
    err.message,
  );
}

/**
 * True for an error that says the database could not be reached (refused, reset, shutting down,
 * host unreachable), as opposed to one about the request: retrying later may succeed.
 */
export function isTransientStoreError(err: unknown): boolean {
  if (err instanceof StoreUnavailableError) return err.reason === "host_unreachable";
  if (err instanceof StoreError) return false;
  return isConnectionError(err);
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
  /**
   * Directory stores only: serve the database on loopback to other processes that open the same
   * directory (default true). With `false` this process still takes the directory's lock, and
   * other openers fail with an error naming it.
   */
  share?: boolean;
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
  if (target.kind === "pglite") return openDirectory(target.dataDir, options);
  const db = new PgliteDb(await PGlite.create());
  if (schema) await db.exec(`SET search_path TO ${schema}`);
  return db;
}

/** Lock paths of the directories this process hosts, and the locks to remove at exit. */
const hostedHere = new Set<string>();
const heldLocks = new Map<string, StoreLockInfo>();
let exitHooked = false;

/** How long an opener waits for a process that holds the lock to start serving it. */
const HOST_START_WAIT_MS = 60_000;
/** How long a lock written by another tool (no `version`) may stay without a port before we give up. */
const FOREIGN_LOCK_WAIT_MS = 3_000;

/**
 * Opens a PGlite directory: takes its lock and hosts it (serving it on loopback unless
 * `share: false`), or, when a live process holds it and serves it, connects to that process.
 */
async function openDirectory(dataDir: string, options: OpenDbOptions): Promise<Db> {
  const share = options.share ?? true;
  mkdirSync(dirname(dataDir), { recursive: true });
  const lockPath = lockPathFor(dataDir);
  const started = Date.now();
  let unreadableSince: number | undefined;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0) await sleep(Math.min(250, 20 * attempt));
    if (Date.now() - started > HOST_START_WAIT_MS + 10_000) {
      throw new StoreUnavailableError(
        "locked",
        `could neither take nor reach ${dataDir} in ${Math.round((Date.now() - started) / 1000)} s (lock: ${lockPath}); ` +
          "if no selfsup process uses the directory, delete the lock",
        { dataDir },
      );
    }
    const mine = ownLockInfo({ share, ...(options.schema ? { schema: options.schema } : {}) });
    if (tryCreateLock(lockPath, mine)) return host(dataDir, lockPath, mine, options);
    const cur: LockFileState = readLockFile(lockPath);
    if (cur.kind === "missing") continue;
    if (cur.kind === "denied") {
      throw new StoreUnavailableError(
        "locked",
        `${dataDir} is in use by another user's process (its lock ${lockPath} is not readable by this user). ` +
          "An embedded PGlite directory is shared only between processes of one user; use a PostgreSQL " +
          "server for the team: set DATABASE_URL=postgres://...",
        { dataDir },
      );
    }
    if (cur.kind === "unreadable") {
      // Its creator is between open and write; a lock that stays unreadable is not ours to judge.
      unreadableSince ??= Date.now();
      if (cur.ageMs > 5_000 && Date.now() - unreadableSince > 1_000) {
        throw new StoreUnavailableError(
          "locked",
          `${lockPath} exists but is not a lock file selfsup can read; if no selfsup process uses ${dataDir}, delete it`,
          { dataDir },
        );
      }
      continue;
    }
    unreadableSince = undefined;
    const holder = cur.info;
    const liveness = lockLiveness(holder, hostedHere.has(lockPath));
    if (liveness === "dead") {
      removeStaleLock(lockPath, cur.raw);
      continue;
    }
    if (liveness === "other-host") {
      throw new StoreUnavailableError(
        "other_host",
        `${dataDir} is in use by pid ${holder.pid} on host ${holder.host} (${JSON.stringify(holder.command)}); ` +
          `PGlite serves one process per directory and cannot be shared across hosts. Use a PostgreSQL ` +
          `server for the team (DATABASE_URL=postgres://...), or delete ${lockPath} if that process is gone`,
        { dataDir, holderPid: holder.pid },
      );
    }
    if (holder.share === false) throw lockedError(dataDir, lockPath, holder, "opened it with share: false");
    if (holder.port !== undefined) {
      const db = await connect(dataDir, lockPath, holder, options);
      if (db) return db;
      continue; // the host went away while we connected: try again (we may become the host)
    }
    const waited = Date.now() - started;
    if (holder.version === undefined && waited > FOREIGN_LOCK_WAIT_MS) {
      throw lockedError(dataDir, lockPath, holder, "does not share it");
    }
    if (waited > HOST_START_WAIT_MS) {
      throw lockedError(
        dataDir,
        lockPath,
        holder,
        `has not started serving it after ${Math.round(waited / 1000)} s`,
      );
    }
  }
}

function lockedError(
  dataDir: string,
  lockPath: string,
  holder: StoreLockInfo,
  why: string,
): StoreUnavailableError {
  return new StoreUnavailableError(
    "locked",
    `${dataDir} is in use by pid ${holder.pid} (${JSON.stringify(holder.command)}), which ${why}. ` +
      "An embedded PGlite directory is opened by one process at a time; others reach it through the " +
      "holder when it shares it (the default). Stop that process, or use a PostgreSQL server for the " +
      `team: set DATABASE_URL=postgres://... (lock: ${lockPath})`,
    { dataDir, holderPid: holder.pid },
  );
}

/** This process holds the lock: open PGlite, serve it on loopback when sharing, record the port. */
async function host(
  dataDir: string,
  lockPath: string,
  lock: StoreLockInfo,
  options: OpenDbOptions,
): Promise<Db> {
  hostedHere.add(lockPath);
  heldLocks.set(lockPath, lock);
  hookExit();
  const hosting: Hosting = {
    lockPath,
    lock,
    sharing: { role: "host", dataDir, lockPath, hostPid: process.pid, hostCommand: lock.command },
  };
  let pglite: PGlite | undefined;
  try {
    mkdirSync(dataDir, { recursive: true });
    pglite = await PGlite.create({ dataDir });
    if (lock.share) {
      const gate = new SessionGate();
      const server = new ShareServer(pglite, gate, lock.secret ? { password: lock.secret } : {});
      try {
        const port = await server.start();
        hosting.lock = { ...lock, port };
        rewriteLock(lockPath, hosting.lock);
        heldLocks.set(lockPath, hosting.lock);
        hosting.sharing = { ...hosting.sharing, port };
        hosting.server = server;
        hosting.gate = gate;
      } catch (err) {
        await server.stop().catch(() => {});
        hosting.lock = { ...lock, share: false };
        rewriteLock(lockPath, hosting.lock);
        heldLocks.set(lockPath, hosting.lock);
        process.emitWarning(
          `@selfsup/store: cannot serve ${dataDir} on loopback (${(err as Error).message}); other processes cannot open it meanwhile`,
        );
      }
    }
    const db = new PgliteDb(pglite, hosting);
    // search_path tolerates a missing schema; migrate() creates it under its lock.
    if (options.schema) await db.exec(`SET search_path TO ${options.schema}`);
    return db;
  } catch (err) {
    await hosting.server?.stop().catch(() => {});
    await pglite?.close().catch(() => {});
    releaseHosting(hosting);
    throw err;
  }
}

function releaseHosting(hosting: Hosting): void {
  removeLockIfOurs(hosting.lockPath, hosting.lock);
  heldLocks.delete(hosting.lockPath);
  hostedHere.delete(hosting.lockPath);
}

/**
 * Connects to the process serving the directory. Undefined when it turned out to be gone (the
 * caller retries the open); an error when it is there but does not answer.
 */
async function connect(
  dataDir: string,
  lockPath: string,
  holder: StoreLockInfo,
  options: OpenDbOptions,
): Promise<Db | undefined> {
  if (options.schema !== undefined && options.schema !== holder.schema) {
    throw new StoreError(
      "invalid_input",
      `schema: ${dataDir} is hosted by pid ${holder.pid} with schema ${JSON.stringify(holder.schema ?? "(default)")}; ` +
        "clients of a shared PGlite directory share its one session and cannot choose another schema",
      "schema",
    );
  }
  const pool = new pg.Pool({
    host: "127.0.0.1",
    port: holder.port,
    user: "postgres",
    database: "postgres",
    ...(holder.secret ? { password: holder.secret } : {}),
    // PGlite has one session; the host serves one turn at a time. One connection per client process.
    max: 1,
    idleTimeoutMillis: 5_000,
    // The host answers from its event loop: a long synchronous training step delays it.
    connectionTimeoutMillis: 30_000,
    allowExitOnIdle: true,
  });
  pool.on("error", () => {});
  const db = new SharedClientDb(
    pool,
    {
      role: "client",
      dataDir,
      lockPath,
      ...(holder.port !== undefined ? { port: holder.port } : {}),
      hostPid: holder.pid,
      hostCommand: holder.command,
    },
    holder,
  );
  try {
    await db.query("SELECT 1");
    return db;
  } catch (err) {
    await db.close().catch(() => {});
    if (err instanceof StoreUnavailableError && err.reason === "host_exited") return undefined;
    throw err;
  }
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  // Best effort: 'exit' runs on a normal exit and process.exit(), not on signals or kill -9. A lock
  // left behind names a dead pid, and the next opener takes it over.
  process.on("exit", () => {
    for (const [path, info] of heldLocks) removeLockIfOurs(path, info);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
