import type { Db } from "./db-types.js";
import { StoreError } from "./errors.js";
import { migrations as allMigrations, type Migration } from "./migrations/index.js";

/**
 * Advisory lock key shared by every opener of a selfsup store (any schema): migrations of
 * concurrent openers run one after the other, and the second finds nothing left to do.
 */
export const MIGRATION_LOCK_KEY = 0x5e1f5_0a7e;

export interface MigrateResult {
  /** Ids applied by this call (empty when the database was already up to date). */
  applied: number[];
  /** Highest migration id now recorded in the database. */
  version: number;
}

/**
 * Brings the schema up to date in ONE transaction: take the advisory lock, create the
 * `migrations` bookkeeping table if needed, apply every migration not yet recorded, in id order.
 * A failure rolls everything back, so a database is never left half-migrated. Safe to call on
 * every open (idempotent) and from several processes at once.
 */
export async function migrate(
  db: Db,
  options: { schema?: string; migrations?: readonly Migration[] } = {},
): Promise<MigrateResult> {
  const list = [...(options.migrations ?? allMigrations)].sort((a, b) => a.id - b.id);
  for (let i = 1; i < list.length; i++) {
    if (list[i].id === list[i - 1].id) {
      throw new StoreError(
        "conflict",
        `two migrations share id ${list[i].id}: ${list[i - 1].name}, ${list[i].name}`,
      );
    }
  }
  return db.transaction(async (tx) => {
    // Lock first: even CREATE ... IF NOT EXISTS races between concurrent sessions.
    await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [String(MIGRATION_LOCK_KEY)]);
    if (options.schema) await tx.exec(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    await tx.exec(`CREATE TABLE IF NOT EXISTS migrations (
      id          integer PRIMARY KEY,
      name        text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now()
    )`);
    const rows = await tx.query<{ id: number }>("SELECT id FROM migrations");
    const done = new Set(rows.map((r) => Number(r.id)));
    const applied: number[] = [];
    for (const m of list) {
      if (done.has(m.id)) continue;
      try {
        await tx.exec(m.sql);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        throw new StoreError("conflict", `migration ${pad(m.id)}-${m.name} failed: ${msg}`);
      }
      await tx.query("INSERT INTO migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
      applied.push(m.id);
      done.add(m.id);
    }
    return { applied, version: Math.max(0, ...done) };
  });
}

function pad(id: number): string {
  return String(id).padStart(3, "0");
}
