/**
 * A throwaway database on a PostgreSQL server: tests, the fault suite and benches that need
 * processes sharing one database (and one pg-boss queue of their own) create one, and drop it.
 */
import { randomBytes } from "node:crypto";
import { StoreError } from "./errors.js";
import { openStore } from "./run-store.js";

export interface ScratchDatabase {
  /** The server URL with the new database as its path. */
  readonly url: string;
  /** Drops the database, closing whatever connections are still open on it. */
  drop(): Promise<void>;
}

/** Creates `<prefix>_<random hex>` on the server at `serverUrl` (a PostgreSQL URL). */
export async function createScratchDatabase(serverUrl: string, prefix: string): Promise<ScratchDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix))
    throw new StoreError("invalid_input", `prefix: "${prefix}" is not a lowercase SQL identifier`, "prefix");
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  await onServer(serverUrl, `CREATE DATABASE ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: () => onServer(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function onServer(serverUrl: string, sql: string): Promise<void> {
  const admin = await openStore({ url: serverUrl, migrate: false, poolSize: 1 });
  try {
    await admin.db.query(sql);
  } finally {
    await admin.close();
  }
}
