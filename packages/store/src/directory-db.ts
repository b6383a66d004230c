/**
 * A shared PGlite directory that outlives whichever process hosts it.
 *
 * The first opener of a directory hosts it (in-process PGlite, served on loopback); later openers
 * are clients (see directory.ts). When the host goes (a clean exit, Ctrl-C, kill -9), its clients
 * lose their connection. {@link DirectoryDb} is what every opener gets back: it holds the current
 * connection (its own PGlite, or a client of another process) and, when a client's connection is
 * lost, opens the directory again: the first survivor to take the lock hosts it (PGlite recovers
 * from its write-ahead log as PostgreSQL does after a crash), the others connect to that one. The
 * operation that failed is then run again, exactly once:
 *
 * - a read is simply repeated;
 * - a write (a statement that is not a plain read, `exec`, or a whole `transaction`) runs on a
 *   client inside a transaction that first records `(client id, sequence number)` in
 *   `public.selfsup_write_acks`. When the connection is lost after the write's own work finished,
 *   its COMMIT may or may not have landed; after reconnecting, the row says which, so a committed
 *   write is not applied twice and a lost one is applied again.
 *
 * A host never loses its own PGlite, so its operations go straight through.
 */
import { randomUUID } from "node:crypto";
import type { Db, OpenDbOptions, Row, SharingInfo, SqlValue } from "./db-types.js";
import { attachDirectory, isConnectionError } from "./directory.js";
import { StoreError, StoreUnavailableError } from "./errors.js";

/** How long a client keeps trying to reach (or become) a new host before an operation fails. */
const RECOVER_LIMIT_MS = 90_000;

const ACKS = "public.selfsup_write_acks";
const CREATE_ACKS = `CREATE TABLE IF NOT EXISTS ${ACKS} (
  client text NOT NULL,
  seq bigint NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (client, seq)
)`;
/**
 * Records this write and forgets this client's rows that no retry can ask about any more (below
 * the oldest write still in progress), and rows of clients that vanished a day ago.
 */
const RECORD_ACK = `WITH gone AS (
  DELETE FROM ${ACKS} WHERE (client = $1 AND seq < $3) OR at < now() - interval '1 day'
)
INSERT INTO ${ACKS} (client, seq) VALUES ($1, $2)`;

/** A statement that only reads: safe to send again after a lost connection. */
export function isReadOnlySql(sql: string): boolean {
  return (
    /^\s*(?:select|with|show|explain|values)\b/i.test(sql) &&
    !/\b(?:insert|update|delete|merge|nextval|setval|pg_advisory_lock|pg_advisory_xact_lock|copy|set_config)\b/i.test(
      sql,
    )
  );
}

/** Why an operation on a client connection failed: its host is gone or unreachable. */
function lostHost(err: unknown): boolean {
  if (err instanceof StoreUnavailableError)
    return err.reason === "host_exited" || err.reason === "host_unreachable";
  if (err instanceof StoreError) return false;
  return isConnectionError(err);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface DirectoryDbOptions {
  /** Opens the directory again: hosts it if the lock is free, else connects to its host. */
  reopen: () => Promise<Db>;
  /** Told each time this process changed how it reaches the store (for logs). */
  onReconnect?: (sharing: SharingInfo | undefined, previous: SharingInfo | undefined) => void;
  /** Give up recovering after this long (ms). */
  recoverLimitMs?: number;
}

export class DirectoryDb implements Db {
  private inner: Db;
  private broken = false;
  private recovering: Promise<void> | undefined;
  private closed = false;
  /** Identifies this opener's writes in the acks table. */
  private readonly clientId = randomUUID();
  private seq = 0;
  /** Sequence numbers of writes not finished yet. */
  private readonly open = new Set<number>();
  /** Connections on which the acks table is known to exist. */
  private readonly acksReady = new WeakSet<Db>();
  /** How many times this opener found its host gone and reconnected (or took the store over). */
  reconnects = 0;

  constructor(
    inner: Db,
    private readonly options: DirectoryDbOptions,
  ) {
    this.inner = inner;
  }

  get driver(): Db["driver"] {
    return this.inner.driver;
  }

  get sharing(): SharingInfo | undefined {
    return this.inner.sharing;
  }

  async query<T = Row>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    if (isReadOnlySql(sql)) return this.read((db) => db.query<T>(sql, params));
    return this.write((db) => db.query<T>(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.write((db) => db.exec(sql));
  }

  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.write((db) => db.transaction(fn), fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.recovering?.catch(() => {});
    await this.inner.close();
  }

  private isClient(db: Db): boolean {
    return db.sharing?.role === "client";
  }

  private async current(): Promise<Db> {
    if (this.closed) throw new StoreError("conflict", "the store is closed");
    if (this.recovering) await this.recovering;
    if (this.broken) await this.recover(this.inner);
    return this.inner;
  }

  private async read<T>(op: (db: Db) => Promise<T>): Promise<T> {
    for (;;) {
      const db = await this.current();
      try {
        return await op(db);
      } catch (err) {
        if (!this.isClient(db) || !lostHost(err)) throw err;
        await this.recover(db, err);
      }
    }
  }

  /**
   * `direct` runs the write on a host's own PGlite; on a client, `inTx` (default: `direct` on the
   * transaction) runs inside a transaction that also records the write's acks row.
   */
  private async write<T>(direct: (db: Db) => Promise<T>, inTx: (tx: Db) => Promise<T> = direct): Promise<T> {
    const seq = ++this.seq;
    this.open.add(seq);
    try {
      let ambiguous = false;
      let result: T | undefined;
      for (;;) {
        const db = await this.current();
        if (ambiguous && (await this.committed(db, seq))) return result as T;
        ambiguous = false;
        if (!this.isClient(db)) return await direct(db);
        await this.ensureAcks(db);
        let finished = false;
        try {
          return await db.transaction(async (tx) => {
            await tx.query(RECORD_ACK, [this.clientId, seq, Math.min(...this.open)]);
            const r = await inTx(tx);
            result = r;
            finished = true;
            return r;
          });
        } catch (err) {
          if (!lostHost(err)) throw err;
          // Lost before COMMIT was sent: rolled back for sure. After: the acks row will tell.
          ambiguous = finished;
          await this.recover(db, err);
        }
      }
    } finally {
      this.open.delete(seq);
    }
  }

  private async ensureAcks(db: Db): Promise<void> {
    if (this.acksReady.has(db)) return;
    await db.exec(CREATE_ACKS);
    this.acksReady.add(db);
  }

  /** Whether write `seq` of this opener committed (asked after reconnecting). */
  private async committed(db: Db, seq: number): Promise<boolean> {
    for (;;) {
      try {
        await this.ensureAcks(db);
        const rows = await db.query(`SELECT 1 FROM ${ACKS} WHERE client = $1 AND seq = $2`, [
          this.clientId,
          seq,
        ]);
        return rows.length > 0;
      } catch (err) {
        if (!this.isClient(db) || !lostHost(err)) throw err;
        await this.recover(db, err);
        db = await this.current();
      }
    }
  }

  /**
   * The connection `failed` lost its host: open the directory again (taking it over when the lock
   * is free). Concurrent callers share one recovery; a caller whose connection was already replaced
   * returns at once.
   */
  private recover(failed: Db, cause?: unknown): Promise<void> {
    if (this.inner !== failed && !this.broken) return Promise.resolve();
    if (this.recovering) return this.recovering;
    this.broken = true;
    const previous = failed.sharing;
    const limit = this.options.recoverLimitMs ?? RECOVER_LIMIT_MS;
    const p = (async () => {
      await failed.close().catch(() => {});
      const started = Date.now();
      let lastErr: unknown = cause;
      for (let attempt = 0; ; attempt++) {
        if (this.closed) throw new StoreError("conflict", "the store is closed");
        if (Date.now() - started > limit) {
          throw lastErr instanceof Error
            ? lastErr
            : new StoreUnavailableError("host_unreachable", `could not reach the store again in ${limit} ms`);
        }
        try {
          const db = await this.options.reopen();
          if (this.closed) {
            await db.close().catch(() => {});
            throw new StoreError("conflict", "the store is closed");
          }
          this.inner = db;
          this.broken = false;
          this.reconnects++;
          this.options.onReconnect?.(db.sharing, previous);
          return;
        } catch (err) {
          if (!lostHost(err)) throw err;
          lastErr = err;
          await sleep(Math.min(1_000, 50 * 2 ** attempt));
        }
      }
    })();
    this.recovering = p;
    void p.then(
      () => {
        if (this.recovering === p) this.recovering = undefined;
      },
      () => {
        if (this.recovering === p) this.recovering = undefined;
      },
    );
    return p;
  }
}

/**
 * Opens a PGlite directory (hosting it or connecting to its host, see directory.ts) as a Db that
 * reconnects, or takes the store over, when its host goes.
 */
export async function openDirectory(
  dataDir: string,
  options: OpenDbOptions,
  onReconnect?: DirectoryDbOptions["onReconnect"],
): Promise<Db> {
  const inner = await attachDirectory(dataDir, options);
  return new DirectoryDb(inner, {
    reopen: () => attachDirectory(dataDir, options),
    ...(onReconnect ? { onReconnect } : {}),
  });
}
