import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import type pg from "pg";
import type { Db, Row, SharingInfo, SqlValue } from "./db-types.js";
import type { StoreLockInfo } from "./lock.js";
import type { SessionGate, ShareServer } from "./share.js";

/** The Db implementations: embedded PGlite (with its transaction view) and a pg pool (with its client view). */

interface Queryable {
  query<T>(sql: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: T[] }>;
  exec(sql: string): Promise<unknown>;
}

/**
 * Starts PGlite (in memory, or on `dataDir`) with the extensions the migrations use: pg_trgm for
 * the runs search's trigram indexes (shipped inside the PGlite package; nothing is downloaded).
 */
export function createPglite(dataDir?: string): Promise<PGlite> {
  return PGlite.create({ ...(dataDir ? { dataDir } : {}), extensions: { pg_trgm } });
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
  async copyBinary(target: string, data: Uint8Array): Promise<void> {
    await this.q.query(`COPY ${target} FROM '/dev/blob' WITH (FORMAT binary)`, [], {
      blob: new Blob([data]),
    });
  }
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async close(): Promise<void> {
    // The outer Db owns the instance.
  }
}

/** What a hosted directory store holds besides PGlite: the lock, and the loopback server when shared. */
export interface Hosting {
  sharing: SharingInfo;
  lockPath: string;
  lock: StoreLockInfo;
  server?: ShareServer;
  gate?: SessionGate;
  /** Gives the lock back (directory.ts); called once when the Db closes. */
  release: () => void;
}

export class PgliteDb implements Db {
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
  async copyBinary(target: string, data: Uint8Array): Promise<void> {
    const run = async () => {
      await this.pglite.query(`COPY ${target} FROM '/dev/blob' WITH (FORMAT binary)`, [], {
        blob: new Blob([data]),
      });
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
      this.hosting?.release();
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

export class PgPoolDb implements Db {
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
    // A connection lost between two statements is reported on the client as an 'error' event
    // (the pool listens only while the client is idle): keep it, so the next statement fails with it.
    const onError = (err: Error) => {
      broken = err;
    };
    client.on("error", onError);
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
      client.off("error", onError);
      client.release(broken);
    }
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
