/**
 * Planner statistics for the embedded store. PGlite runs no autovacuum, so nothing ever ANALYZEs
 * `runs` there and the planner guesses: over 100,000 runs a search that matches 12,500 of them
 * ("simclr") then reads all of them through the trigram index and sorts them (560 ms under load)
 * instead of walking the creation-order index until a page is full (1.6 ms), because without
 * statistics every pattern looks rare. PGlite does not keep its activity counters across restarts
 * either, so staleness is judged by size: `pg_class.reltuples` (what the last ANALYZE counted)
 * against the run count the store keeps (`runs_count`, migration 007). Checked when a store opens
 * (one small query); ANALYZE samples at most 30,000 rows, so it stays bounded at any size.
 * A PostgreSQL server's autovacuum does this by itself.
 */
import type { Db } from "./db-types.js";

/** Below this many runs any plan is fast; no statistics needed. */
export const ANALYZE_MIN_RUNS = 1000;
/** Re-analyze when the run count moved by more than this fraction since the last ANALYZE. */
export const ANALYZE_DRIFT = 0.2;

/** True when an embedded store (host or client) is behind `db`. */
export function isEmbedded(db: Db): boolean {
  return db.driver === "pglite" || db.sharing !== undefined;
}

/** ANALYZEs `runs` (and `run_summary`) when they have no statistics or grew/shrank a lot; says whether it did. */
export async function analyzeIfStale(db: Db): Promise<boolean> {
  const [r] = await db.query<{ est: number; n: number; analyzed: boolean }>(
    `SELECT c.reltuples::float8 AS est,
            (SELECT COALESCE(sum(n), 0) FROM runs_count)::float8 AS n,
            EXISTS (SELECT 1 FROM pg_stats s
                    WHERE s.schemaname = current_schema() AND s.tablename = 'runs') AS analyzed
     FROM pg_class c WHERE c.oid = 'runs'::regclass`,
  );
  if (!r) return false;
  const n = Number(r.n);
  const est = Math.max(Number(r.est), 0); // -1: never analyzed
  if (n < ANALYZE_MIN_RUNS) return false;
  if (r.analyzed && Math.abs(n - est) <= ANALYZE_DRIFT * Math.max(est, ANALYZE_MIN_RUNS)) return false;
  await db.exec("ANALYZE runs; ANALYZE run_summary");
  return true;
}
