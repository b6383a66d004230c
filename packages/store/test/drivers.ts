import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type OpenStoreOptions, openStore, type RunStore } from "../src/index.js";

/**
 * The drivers every store test runs on. PGlite in memory and in a temp directory always; real
 * PostgreSQL when TEST_DATABASE_URL is set (`eval "$(.ci/start-postgres.sh)"`), each suite in its
 * own schema so suites and files do not see each other's rows.
 */
export interface Driver {
  name: "pglite-memory" | "pglite-dir" | "postgres";
  available: boolean;
  /** Options for openStore; the same options reopen the same database. */
  options(): OpenStoreOptions;
  /** Removes what options() created (temp dir / schema). */
  cleanup(): Promise<void>;
}

const PG_URL = process.env.TEST_DATABASE_URL;
/** CI must run the PostgreSQL half: there a missing TEST_DATABASE_URL fails instead of skipping. */
const IN_CI = !!process.env.CI && !/^(0|false)$/i.test(process.env.CI);
const MISSING_PG_IN_CI =
  "TEST_DATABASE_URL is not set, but CI is: the PostgreSQL half of the store suite must run in CI. " +
  'Install PostgreSQL (apt-get install -y postgresql) and start a throwaway cluster with eval "$(.ci/start-postgres.sh)" ' +
  "before the tests (.ci/run does both when PostgreSQL is installed).";
let warned = false;

export function drivers(suite: string): Driver[] {
  let dir: string | undefined;
  const schema = `t_${suite.replace(/\W/g, "_").toLowerCase()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  return [
    {
      name: "pglite-memory",
      available: true,
      options: () => ({ url: "memory://" }),
      cleanup: async () => {},
    },
    {
      name: "pglite-dir",
      available: true,
      options: () => {
        dir ??= mkdtempSync(join(tmpdir(), "selfsup-store-"));
        return { dataDir: join(dir, "db") };
      },
      cleanup: async () => {
        if (dir) rmSync(dir, { recursive: true, force: true });
        dir = undefined;
      },
    },
    {
      name: "postgres",
      available: PG_URL !== undefined && PG_URL !== "",
      options: () => ({ url: PG_URL, schema, poolSize: 4 }),
      cleanup: async () => {
        const s = await openStore({ url: PG_URL, migrate: false });
        try {
          await s.db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        } finally {
          await s.close();
        }
      },
    },
  ];
}

/** What a suite sees: the driver and the store currently open on it (reopen() swaps it). */
export interface SuiteContext {
  readonly driver: Driver;
  readonly store: RunStore;
  /** Closes the store (flushing writers) and opens the same database again. */
  reopen(): Promise<RunStore>;
}

export type Suite = (ctx: SuiteContext) => void;

/**
 * Runs the suites once per driver (describe per driver, one store per driver shared by the
 * suites, opened once: PGlite's initdb is the slow part). PostgreSQL is skipped, loudly, when
 * TEST_DATABASE_URL is unset, and FAILS when it is unset in CI (`CI` set).
 */
export function describeDrivers(file: string, suites: Record<string, Suite>): void {
  for (const d of drivers(file)) {
    if (!d.available && IN_CI) {
      describe(`[${d.name}]`, () => {
        it("runs in CI (needs TEST_DATABASE_URL)", () => {
          throw new Error(MISSING_PG_IN_CI);
        });
      });
      continue;
    }
    if (!d.available && !warned) {
      warned = true;
      console.warn(
        "[@selfsup/store tests] TEST_DATABASE_URL is not set: SKIPPING the PostgreSQL driver. " +
          'Run: eval "$(.ci/start-postgres.sh)"',
      );
    }
    describe.skipIf(!d.available)(`[${d.name}]`, () => {
      let current: RunStore | undefined;
      const ctx: SuiteContext = {
        driver: d,
        get store(): RunStore {
          if (!current) throw new Error("store not open");
          return current;
        },
        async reopen(): Promise<RunStore> {
          await current?.close();
          current = undefined;
          current = await openStore(d.options());
          return current;
        },
      };
      beforeAll(async () => {
        current = await openStore(d.options());
      });
      afterAll(async () => {
        await current?.close();
        await d.cleanup();
      });
      for (const [name, suite] of Object.entries(suites)) describe(name, () => suite(ctx));
    });
  }
}

/** Empties every table (runs cascades to the rest). */
export async function reset(store: RunStore): Promise<void> {
  await store.db.exec("TRUNCATE runs CASCADE");
}
