/**
 * Tests that need two processes on one database use a real PostgreSQL: TEST_DATABASE_URL
 * (`eval "$(bash .ci/start-postgres.sh)"`). Each suite gets its own throwaway database on that
 * server, dropped at the end.
 */
import { createScratchDatabase, type ScratchDatabase } from "@selfsup/store";

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export function warnSkipped(suite: string): void {
  if (!TEST_DATABASE_URL) {
    process.stderr.write(
      `[@selfsup/runner tests] TEST_DATABASE_URL is not set: SKIPPING ${suite}. Start one with: eval "$(bash .ci/start-postgres.sh)"\n`,
    );
  }
}

/** Creates a fresh database on the TEST_DATABASE_URL server; returns its URL and a drop function. */
export async function createTestDatabase(prefix = "selfsup_runner"): Promise<ScratchDatabase> {
  if (!TEST_DATABASE_URL) throw new Error("TEST_DATABASE_URL is not set");
  return createScratchDatabase(TEST_DATABASE_URL, prefix);
}
