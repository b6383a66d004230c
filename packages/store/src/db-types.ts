/**
 * The types every part of the store shares: the small database surface (Db) both drivers and the
 * directory store implement, and the options that pick one. Kept apart from db.ts (which opens a
 * Db) so that the drivers and the directory store import them without importing the opener.
 */

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
  /**
   * PGlite only: `COPY <target> FROM '/dev/blob' WITH (FORMAT binary)` with `data` as the file.
   * Bulk appends use it when present (binary COPY skips parsing parameters as text, about 1.7x
   * faster than multi-row INSERTs of arrays); without it they fall back to the INSERT.
   */
  copyBinary?(target: string, data: Uint8Array): Promise<void>;
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
