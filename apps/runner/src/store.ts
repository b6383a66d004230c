/**
 * Opening the run store for a command: PGlite under SELFSUP_HOME by default, PostgreSQL when
 * DATABASE_URL is set (the store's openStore decides). Commands that look at or take runs first
 * fail runs whose heartbeat went stale (a crashed or kill -9'ed trainer), so nothing stays
 * "running" forever.
 */
import { openStore, type RunStore, redact, resolveTarget } from "@selfsup/store";

/** How often a training process touches its run's heartbeat (ms); SELFSUP_HEARTBEAT_MS overrides. */
export function heartbeatMs(env: NodeJS.ProcessEnv = process.env): number {
  return positiveEnv(env.SELFSUP_HEARTBEAT_MS, 5_000);
}

/** A running run whose heartbeat is older than this is marked failed (ms); SELFSUP_STALE_AFTER_MS overrides. */
export function staleAfterMs(env: NodeJS.ProcessEnv = process.env): number {
  return positiveEnv(env.SELFSUP_STALE_AFTER_MS, 60_000);
}

function positiveEnv(value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : fallback;
}

export interface OpenRunnerStoreOptions {
  /** postgres://, file:// or memory:// (default: DATABASE_URL, else PGlite under SELFSUP_HOME). */
  url?: string;
  /** Mark runs with a stale heartbeat failed right after opening (default true). */
  markStale?: boolean;
  /** pg pool size (PostgreSQL only). */
  poolSize?: number;
}

/** Human description of where the store is, password hidden. */
export function describeStore(url?: string): string {
  const t = resolveTarget(url === undefined ? {} : { url });
  if (t.kind === "pg") return `PostgreSQL ${redact(t.url)}`;
  if (t.kind === "pglite") return `PGlite ${t.dataDir}`;
  return "PGlite (in memory)";
}

export async function openRunnerStore(opts: OpenRunnerStoreOptions = {}): Promise<RunStore> {
  let store: RunStore;
  try {
    store = await openStore({
      ...(opts.url !== undefined ? { url: opts.url } : {}),
      ...(opts.poolSize !== undefined ? { poolSize: opts.poolSize } : {}),
    });
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(`cannot open the run store (${describeStore(opts.url)}): ${msg}`);
  }
  if (opts.markStale !== false) await store.markStaleRuns(staleAfterMs());
  return store;
}
