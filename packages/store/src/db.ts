import { join, resolve } from "node:path";
import pg from "pg";
import type { Db, DbTarget, OpenDbOptions } from "./db-types.js";
import { openDirectory } from "./directory-db.js";
import { createPglite, PgliteDb, PgPoolDb } from "./drivers.js";
import { StoreError } from "./errors.js";

export type { Db, DbTarget, DriverName, OpenDbOptions, Row, SharingInfo, SqlValue } from "./db-types.js";

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
      // Set at connection start-up, so every pooled connection sees the same settings: the schema,
      // and no JIT. The store's queries are short index walks; when the planner cannot bound a
      // range (a raw read between steps found by a subquery) its estimate passes jit_above_cost
      // and compiling takes 50+ ms of a 5 ms query.
      options: `-c jit=off${schema ? ` -c search_path=${schema}` : ""}`,
    });
    // An idle client losing its server connection must not crash the process; pg drops it.
    pool.on("error", () => {});
    return new PgPoolDb(pool);
  }
  if (target.kind === "pglite") return openDirectory(target.dataDir, options);
  const db = new PgliteDb(await createPglite());
  if (schema) await db.exec(`SET search_path TO ${schema}`);
  return db;
}
