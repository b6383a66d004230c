import { beforeEach, expect, it } from "vitest";
import { migrate, migrations, type OpenStoreOptions, openStore, RunStore } from "../../src/index.js";
import type { SuiteContext } from "../drivers.js";

export function migrationsSuite(ctx: SuiteContext): void {
  let store: RunStore;
  beforeEach(() => {
    store = ctx.store;
  });

  it("applies every migration once and is idempotent, also under concurrent migrators", async () => {
    expect(store.migration).toEqual({ applied: migrations.map((m) => m.id), version: migrations.length });
    const rows = await store.db.query<{ id: number; name: string }>(
      "SELECT id, name FROM migrations ORDER BY id",
    );
    expect(rows.map((r) => [Number(r.id), r.name])).toEqual(migrations.map((m) => [m.id, m.name]));
    expect(await migrate(store.db)).toEqual({ applied: [], version: migrations.length });
    // Concurrent migrators on one Db serialize on the advisory lock.
    const results = await Promise.all([migrate(store.db), migrate(store.db), migrate(store.db)]);
    expect(results.every((r) => r.applied.length === 0)).toBe(true);
  });

  it("rolls a failing migration back completely", async () => {
    const broken = [
      ...migrations,
      { id: 900, name: "ok-part", sql: "CREATE TABLE extra_ok (x int)" },
      { id: 901, name: "broken", sql: "CREATE TABLE extra_broken (x int); SELECT 1 / 0;" },
    ];
    await expect(migrate(store.db, { migrations: broken })).rejects.toThrow(
      /migration 901-broken failed: .*division by zero/,
    );
    const tables = await store.db.query<{ t: string | null }>(
      "SELECT to_regclass('extra_ok')::text AS t UNION ALL SELECT to_regclass('extra_broken')::text",
    );
    expect(tables.map((r) => r.t)).toEqual([null, null]);
    const max = await store.db.query<{ m: number }>("SELECT max(id) AS m FROM migrations");
    expect(Number(max[0].m)).toBe(migrations.length);
    await expect(
      migrate(store.db, { migrations: [...migrations, { id: 1, name: "dup", sql: "" }] }),
    ).rejects.toThrow(/two migrations share id 1/);
  });

  it("rolls a transaction back when its function throws", async () => {
    await store.db.exec("CREATE TABLE IF NOT EXISTS tx_probe (x int)");
    await expect(
      store.db.transaction(async (tx) => {
        await tx.query("INSERT INTO tx_probe VALUES (1)");
        // A nested transaction joins the outer one.
        await tx.transaction((inner) => inner.query("INSERT INTO tx_probe VALUES (2)"));
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await store.db.query("SELECT * FROM tx_probe")).toEqual([]);
    await store.db.transaction((tx) => tx.query("INSERT INTO tx_probe VALUES (3)"));
    expect(await store.db.query("SELECT x FROM tx_probe")).toEqual([{ x: 3 }]);
  });

  it.skipIf(ctx.driver.name === "pglite-memory")("persists data across close and re-open", async () => {
    const runId = (await store.createRun({ method: "simclr", summary: { knn_top1: 0.9 } })).id;
    const w = store.metricWriter(runId);
    w.log(5, { loss: 0.5 });
    store = await ctx.reopen(); // closing flushes the writer too
    expect(store.migration).toEqual({ applied: [], version: migrations.length });
    expect((await store.getRun(runId))?.summary).toEqual({ knn_top1: 0.9 });
    expect(await store.lastMetricStep(runId)).toBe(5);
  });

  it.skipIf(ctx.driver.name !== "postgres")("lets concurrent openers race on a fresh schema", async () => {
    const base = ctx.driver.options();
    const opts = { ...base, schema: `${base.schema}_race` };
    const stores = await Promise.all([openStore(opts), openStore(opts), openStore(opts), openStore(opts)]);
    try {
      const applied = stores.map((s) => s.migration?.applied.length ?? -1).sort();
      expect(applied).toEqual([0, 0, 0, migrations.length]);
    } finally {
      await stores[0].db.exec(`DROP SCHEMA ${opts.schema} CASCADE`);
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it.skipIf(ctx.driver.name === "pglite-dir")(
    "builds the series levels (step and wall time) of points stored before migrations 004 and 006",
    async () => {
      const base = ctx.driver.options();
      const opts: OpenStoreOptions =
        ctx.driver.name === "postgres" ? { ...base, schema: `${base.schema}_m4` } : { url: "memory://" };
      const old = await openStore({ ...opts, migrate: false });
      try {
        await migrate(old.db, { schema: opts.schema, migrations: migrations.filter((m) => m.id < 4) });
        await old.db.query("INSERT INTO runs (id, name, method) VALUES ('old', 'old', 'simclr')");
        await old.db.query("INSERT INTO metric_keys (run_id, key) VALUES ('old', 'loss')");
        // 20,000 points, one spike; steps 3 apart, so several levels are used.
        await old.db.query(
          `INSERT INTO metric_points (run_id, key, step, value, wall_time)
           SELECT 'old', 'loss', i * 3, CASE WHEN i = 12345 THEN 99 ELSE sin(i / 100.0) END,
                  to_timestamp(1735689600 + i * 0.25)
           FROM generate_series(0, 19999) AS i`,
        );
        // Points written around the store, without a metric_keys row: migration 008 gives them a series too.
        await old.db.query(
          `INSERT INTO metric_points (run_id, key, step, value, wall_time)
           SELECT 'old', 'acc', i, i, to_timestamp(1735689600 + i) FROM generate_series(0, 9) AS i`,
        );
        expect(await migrate(old.db, { schema: opts.schema })).toEqual({
          applied: [4, ...migrations.filter((m) => m.id > 4).map((m) => m.id)],
          version: migrations.length,
        });
        const levels = await old.db.query<{ level: number; n: number }>(
          `SELECT level, sum(n)::int AS n FROM metric_levels l JOIN metric_series s ON s.id = l.series_id
           WHERE s.run_id = 'old' GROUP BY level ORDER BY level`,
        );
        expect(levels.map((r) => [Number(r.level), Number(r.n)])).toEqual([
          [1, 20_010],
          [2, 20_010],
          [3, 20_010],
          [4, 20_010],
          [5, 20_010],
        ]);
        const migrated = new RunStore(old.db);
        expect(await migrated.metricKeys("old")).toEqual(["acc", "loss"]);
        const [acc] = await migrated.readSeries("old", ["acc"]);
        expect(acc.points.map((p) => p.y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        const [s] = await migrated.readSeries("old", ["loss"], { maxPoints: 20, y: "last" });
        expect(s.total).toBe(20_000);
        expect(s.points.reduce((a, p) => a + p.count, 0)).toBe(20_000);
        expect(Math.max(...s.points.map((p) => p.max))).toBe(99);
        expect(s.points[s.points.length - 1].x).toBe(19_999 * 3);
        // Migration 006 built the wall-time levels too (20,000 points a quarter second apart).
        const timeLevels = await old.db.query<{ level: number; n: number }>(
          `SELECT level, sum(n)::int AS n FROM metric_time_levels l JOIN metric_series s ON s.id = l.series_id
           WHERE s.run_id = 'old' GROUP BY level ORDER BY level`,
        );
        expect(timeLevels.map((r) => [Number(r.level), Number(r.n)])).toEqual(
          [1, 2, 3, 4, 5, 6, 7].map((l) => [l, 20_010]),
        );
        const [w] = await migrated.readSeries("old", ["loss"], {
          maxPoints: 20,
          y: "last",
          xAxis: "relative_time",
        });
        expect(w.total).toBe(20_000);
        expect(w.downsampled).toBe(true);
        expect(Math.max(...w.points.map((p) => p.max))).toBe(99);
        expect(w.points[w.points.length - 1].x).toBe(19_999 * 0.25);
      } finally {
        if (ctx.driver.name === "postgres") await old.db.exec(`DROP SCHEMA IF EXISTS ${opts.schema} CASCADE`);
        await old.close();
      }
    },
  );
}
