/**
 * A training run outlives short database outages (a PostgreSQL restart, a failover): metric points
 * wait in the MetricWriter's buffer, and every write the run must make (flushing metrics,
 * recording a checkpoint, the final status) is retried with exponential backoff while the error
 * says the database is unreachable. If it stays away past a limit (SELFSUP_DB_RETRY_MS, default
 * 120 s), the run stops with a clear message; its last recorded checkpoint is where `selfsup
 * resume` continues, and the steps after it are trained again, so no metric point is lost.
 */
import { isTransientStoreError } from "@selfsup/store";

export const DEFAULT_DB_RETRY_MS = 120_000;

/** How long a run keeps retrying an unreachable database (SELFSUP_DB_RETRY_MS). */
export function dbRetryLimitMs(): number {
  const v = Number(process.env.SELFSUP_DB_RETRY_MS);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_DB_RETRY_MS;
}

/** The database stayed unreachable past the retry limit. */
export class DatabaseGoneError extends Error {
  override name = "DatabaseGoneError";
}

export interface RetryOptions {
  /** Give up after this long (ms) of failures. */
  limitMs?: number;
  /** Told before each wait: what failed, the attempt number and the wait. */
  onRetry?: (what: string, attempt: number, waitMs: number, error: unknown) => void;
  /** First wait (ms, doubled each attempt up to maxWaitMs). */
  firstWaitMs?: number;
  maxWaitMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn`, retrying while it fails because the database is unreachable. */
export async function retryWhileUnreachable<T>(
  what: string,
  fn: () => Promise<T>,
  opts: RetryOptions = {},
): Promise<T> {
  const limit = opts.limitMs ?? dbRetryLimitMs();
  const started = Date.now();
  let wait = opts.firstWaitMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransientStoreError(err)) throw err;
      const elapsed = Date.now() - started;
      if (elapsed >= limit) {
        throw new DatabaseGoneError(
          `the database has been unreachable for ${Math.round(elapsed / 1000)}s while ${what} (${err instanceof Error ? err.message : String(err)})`,
        );
      }
      const w = Math.min(wait, opts.maxWaitMs ?? 5_000, Math.max(10, limit - elapsed));
      opts.onRetry?.(what, attempt, w, err);
      await sleep(w);
      wait *= 2;
    }
  }
}
