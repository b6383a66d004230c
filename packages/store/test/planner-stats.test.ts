/**
 * PGlite runs no autovacuum: without the store's own ANALYZE at open, `runs` never gets planner
 * statistics and a search that matches many runs reads and sorts all of them (issue 26 item 12).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore } from "../src/index.js";
import { ANALYZE_MIN_RUNS, analyzeIfStale } from "../src/planner-stats.js";

const dir = mkdtempSync(join(tmpdir(), "selfsup-stats-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hasStats = async (store: Awaited<ReturnType<typeof openStore>>) =>
  (
    await store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'runs'",
    )
  )[0]?.n ?? 0;

async function addRuns(store: Awaited<ReturnType<typeof openStore>>, from: number, n: number): Promise<void> {
  await store.db.query(
    `INSERT INTO runs (id, name, method, status)
     SELECT 'r' || lpad(g::text, 7, '0'), 'moco-' || g, 'moco', 'finished'
     FROM generate_series($1::int, $2::int) AS g`,
    [from, from + n - 1],
  );
}

describe("planner statistics of an embedded store", () => {
  it("opening a store ANALYZEs runs once it holds enough runs and again when it grew a lot", async () => {
    const data = join(dir, "db");
    let store = await openStore({ dataDir: data });
    try {
      await addRuns(store, 1, ANALYZE_MIN_RUNS + 500);
      expect(await hasStats(store)).toBe(0); // nothing analyzes by itself
    } finally {
      await store.close();
    }
    store = await openStore({ dataDir: data });
    try {
      expect(await hasStats(store)).toBeGreaterThan(0);
      const est = async () =>
        Number(
          (
            await store.db.query<{ t: number }>("SELECT reltuples AS t FROM pg_class WHERE relname = 'runs'")
          )[0]?.t,
        );
      expect(await est()).toBe(ANALYZE_MIN_RUNS + 500);
      // Fresh statistics: nothing to do; 5% more runs: still nothing; doubled: analyzed again.
      expect(await analyzeIfStale(store.db)).toBe(false);
      await addRuns(store, 100_000, 75);
      expect(await analyzeIfStale(store.db)).toBe(false);
      await addRuns(store, 200_000, ANALYZE_MIN_RUNS + 500);
      expect(await analyzeIfStale(store.db)).toBe(true);
      expect(await est()).toBe(2 * (ANALYZE_MIN_RUNS + 500) + 75);
    } finally {
      await store.close();
    }
  });

  it("a small store is left alone (any plan is fast there)", async () => {
    const store = await openStore({ url: "memory://" });
    try {
      await addRuns(store, 1, 10);
      expect(await analyzeIfStale(store.db)).toBe(false);
      expect(await hasStats(store)).toBe(0);
    } finally {
      await store.close();
    }
  });
});
