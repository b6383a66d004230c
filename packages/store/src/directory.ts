import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import type { Db, OpenDbOptions, Row, SharingInfo, SqlValue } from "./db-types.js";
import { createPglite, type Hosting, PgliteDb, PgPoolDb } from "./drivers.js";
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
 * An embedded PGlite directory shared between processes: the first opener takes `<dataDir>.lock`
 * and hosts the database (serving it on loopback), later openers connect to it as clients.
 */

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

export function isConnectionError(err: unknown): boolean {
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

/** Lock paths of the directories this process hosts, and the locks to remove at exit. */
const hostedHere = new Set<string>();
const heldLocks = new Map<string, StoreLockInfo>();
let exitHooked = false;

/** How long an opener waits for a process that holds the lock to start serving it. */
const HOST_START_WAIT_MS = 60_000;
/** How long a lock written by another tool (no `version`) may stay without a port before we give up. */
const FOREIGN_LOCK_WAIT_MS = 3_000;

/**
 * Opens a PGlite directory once: takes its lock and hosts it (serving it on loopback unless
 * `share: false`), or, when a live process holds it and serves it, connects to that process.
 * directory-db.ts wraps the result so that it survives the host.
 */
export async function attachDirectory(dataDir: string, options: OpenDbOptions): Promise<Db> {
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
    release: () => releaseHosting(hosting),
  };
  let pglite: PGlite | undefined;
  try {
    mkdirSync(dataDir, { recursive: true });
    pglite = await createPglite(dataDir);
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
