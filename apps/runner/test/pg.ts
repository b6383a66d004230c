/**
 * Tests that need two processes on one database use a real PostgreSQL: TEST_DATABASE_URL
 * (`eval "$(bash .ci/start-postgres.sh)"`). Each suite gets its own throwaway database on that
 * server, dropped at the end.
 */
import { randomBytes } from "node:crypto";
import { openStore } from "@selfsup/store";

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

export function warnSkipped(suite: string): void {
  if (!TEST_DATABASE_URL) {
    process.stderr.write(
      `[@selfsup/runner tests] TEST_DATABASE_URL is not set: SKIPPING ${suite}. Start one with: eval "$(bash .ci/start-postgres.sh)"\n`,
    );
  }
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Creates a fresh database on the TEST_DATABASE_URL server; returns its URL and a drop function. */
export async function createTestDatabase(
  prefix = "selfsup_runner",
): Promise<{ url: string; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error("TEST_DATABASE_URL is not set");
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  const admin = await openStore({ url: TEST_DATABASE_URL, migrate: false, poolSize: 1 });
  try {
    await admin.db.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  return {
    url: withDatabase(TEST_DATABASE_URL, name),
    async drop() {
      const a = await openStore({ url: TEST_DATABASE_URL as string, migrate: false, poolSize: 1 });
      try {
        await a.db.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.close();
      }
    },
  };
}
