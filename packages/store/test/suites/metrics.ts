import { beforeEach, expect, it, vi } from "vitest";
import { type Db, type Run, RunStore, StoreError } from "../../src/index.js";
import { reset, type SuiteContext } from "../drivers.js";

/** Wraps a Db to count transactions (one per metric batch). */
function countingDb(db: Db): { db: Db; transactions: () => number } {
  let n = 0;
  const wrapped: Db = {
    driver: db.driver,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => {
      n++;
      return db.transaction(fn);
    },
    close: async () => {},
  };
  return { db: wrapped, transactions: () => n };
}

async function count(store: RunStore, runId: string): Promise<number> {
  const rows = await store.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM metric_points p JOIN metric_series s ON s.id = p.series_id WHERE s.run_id = $1",
    [runId],
  );
  return Number(rows[0].n);
}

export function metricsSuite(ctx: SuiteContext): void {
  let store: RunStore;
  let run: Run;
  beforeEach(async () => {
    store = ctx.store;
    await reset(store);
    run = await store.createRun({ method: "simclr", status: "running" });
  });

  it("batches writes: one transaction per flushEvery points, rest at close", async () => {
    const counting = countingDb(store.db);
    const s = new RunStore(counting.db);
    const w = s.metricWriter(run.id, { flushEvery: 100, flushIntervalMs: 0 });
    for (let step = 0; step < 100; step++) w.write("loss", step, 1 / (step + 1));
    await vi.waitFor(() => expect(w.flushed).toBe(100));
    expect(counting.transactions()).toBe(1);
    for (let step = 100; step < 150; step++) w.log(step, { loss: 1 / (step + 1), lr: 0.1 });
    expect(w.pending).toBe(100);
    // flushEvery reached again by the log() calls above -> one more background batch.
    await vi.waitFor(() => expect(w.flushed).toBe(200));
    w.write("lr", 150, 0.05);
    expect(await count(store, run.id)).toBe(200);
    await w.close();
    expect(counting.transactions()).toBe(3);
    expect(await count(store, run.id)).toBe(201);
    expect(() => w.write("loss", 999, 1)).toThrow(StoreError);
    await w.close(); // idempotent
  });

  it("flushes on the timer", async () => {
    const w = store.metricWriter(run.id, { flushEvery: 1000, flushIntervalMs: 20 });
    w.log(0, { a: 1, b: 2, c: 3 });
    await vi.waitFor(() => expect(w.flushed).toBe(3), { timeout: 5000 });
    expect(await store.metricKeys(run.id)).toEqual(["a", "b", "c"]);
    await w.close();
  });

  it("replays are idempotent and the last value wins", async () => {
    const w = store.metricWriter(run.id, { flushEvery: 50, flushIntervalMs: 0 });
    for (let step = 0; step < 120; step++) w.write("loss", step, step);
    w.write("loss", 3, -3); // same (key, step) twice in one buffer
    await w.flush();
    expect(await count(store, run.id)).toBe(120);
    // Replay after a "crash": same steps again, new values, plus new steps.
    for (let step = 100; step < 150; step++) w.write("loss", step, step * 10);
    await w.close();
    expect(await count(store, run.id)).toBe(150);
    const [series] = await store.readSeries(run.id, ["loss"], { maxPoints: 1000 });
    const y = new Map(series.points.map((p) => [p.x, p.y]));
    expect(y.get(3)).toBe(-3);
    expect(y.get(99)).toBe(99);
    expect(y.get(100)).toBe(1000);
    expect(y.get(149)).toBe(1490);
    // appendMetrics directly, with a duplicate inside one call.
    await store.appendMetrics(run.id, [
      { key: "acc", step: 1, value: 0.1 },
      { key: "acc", step: 1, value: 0.2, wallTime: new Date("2024-01-01T00:00:00Z") },
    ]);
    await store.appendMetrics(run.id, [
      { key: "acc", step: 1, value: 0.2, wallTime: "2024-01-01T00:00:00Z" },
    ]);
    const [acc] = await store.readSeries(run.id, ["acc"], { xAxis: "wall_time" });
    expect(acc.points).toEqual([
      { x: Date.parse("2024-01-01T00:00:00Z"), y: 0.2, min: 0.2, max: 0.2, count: 1 },
    ]);
  });

  it("gives each (run, key) one series id; batches of known keys take no new ids", async () => {
    const ids = async () =>
      (
        await store.db.query<{ id: number; key: string }>(
          "SELECT id, key FROM metric_series WHERE run_id = $1 ORDER BY key",
          [run.id],
        )
      ).map((r): [string, number] => [r.key, Number(r.id)]);
    const w = store.metricWriter(run.id, { flushEvery: 10, flushIntervalMs: 0 });
    for (let step = 0; step < 100; step++) w.log(step, { a: step, b: -step });
    await w.close();
    const [[, a], [, b]] = await ids();
    expect(Math.abs(a - b)).toBe(1);
    await store.appendMetrics(run.id, [{ key: "c", step: 0, value: 1 }]);
    // 20 batches of a and b before: the identity did not move past them.
    expect(await ids()).toEqual([
      ["a", a],
      ["b", b],
      ["c", Math.max(a, b) + 1],
    ]);
    expect(await store.metricKeys(run.id)).toEqual(["a", "b", "c"]);
  });

  it("rejects bad points and names the field", async () => {
    const w = store.metricWriter(run.id);
    expect(() => w.write("bad key", 0, 1)).toThrow(/key/);
    expect(() => w.write("loss", -1, 1)).toThrow(/step/);
    expect(() => w.write("loss", 1.5, 1)).toThrow(/step/);
    expect(() => w.write("loss", 1, Number.NaN)).toThrow(/value/);
    expect(() => w.write("loss", 1, Number.POSITIVE_INFINITY)).toThrow(/value/);
    expect(() => w.write("loss", 1, 1, new Date("nope"))).toThrow(/wallTime/);
    expect(w.pending).toBe(0);
    await w.close();
    await expect(store.appendMetrics(run.id, [{ key: "ok", step: 0, value: Number.NaN }])).rejects.toThrow(
      /points\.0\.value/,
    );
    await expect(store.appendMetrics("bad id", [])).rejects.toThrow(/runId/);
    expect(() => store.metricWriter(run.id, { flushEvery: 0 })).toThrow(/flushEvery/);
  });

  it("is bounded without dropping or blocking: past highWaterMark write() says so and keeps the point", async () => {
    const full: number[] = [];
    const w = store.metricWriter(run.id, {
      flushEvery: 10,
      highWaterMark: 25,
      flushIntervalMs: 0,
      onFull: (n) => full.push(n),
    });
    const accepted: boolean[] = [];
    // No await in between: the database cannot catch up, as in a training step that logs a lot.
    for (let step = 0; step < 100; step++) accepted.push(w.write("loss", step, step));
    expect(accepted.slice(0, 24).every(Boolean)).toBe(true);
    expect(accepted.slice(25).some(Boolean)).toBe(false);
    expect(full).toEqual([25]);
    expect(w.full).toBe(true);
    await w.drain();
    expect(w.full).toBe(false);
    await w.close();
    expect(w.flushed).toBe(100);
    expect(await count(store, run.id)).toBe(100);
    expect(() => store.metricWriter(run.id, { flushEvery: 10, highWaterMark: 5 })).toThrow(/highWaterMark/);
  });

  it("pages raw points of a key in step order (exports)", async () => {
    const t0 = Date.parse("2025-03-01T00:00:00Z");
    await store.appendMetrics(
      run.id,
      Array.from({ length: 25 }, (_, i) => ({ key: "loss", step: i * 2, value: i / 10, wallTime: t0 + i })),
    );
    const page1 = await store.readPoints(run.id, "loss", { limit: 10 });
    const page2 = await store.readPoints(run.id, "loss", { limit: 10, afterStep: page1[9].step });
    const page3 = await store.readPoints(run.id, "loss", { limit: 10, afterStep: page2[9].step });
    expect([page1.length, page2.length, page3.length]).toEqual([10, 10, 5]);
    expect(page2[0]).toEqual({ step: 20, value: 1, wallTime: new Date(t0 + 10) });
    expect(page3[4].step).toBe(48);
    expect(await store.readPoints(run.id, "nope")).toEqual([]);
    await expect(store.readPoints(run.id, "loss", { limit: 0 })).rejects.toThrow(/limit/);
  });

  it("keeps points of a failed flush and retries them", async () => {
    const errors: Error[] = [];
    const w = store.metricWriter("not-yet", {
      flushEvery: 2,
      flushIntervalMs: 0,
      onError: (e) => errors.push(e),
    });
    w.write("loss", 0, 1);
    w.write("loss", 1, 2);
    await vi.waitFor(() => expect(errors.length).toBe(1));
    expect((errors[0] as StoreError).code).toBe("not_found");
    expect(w.pending).toBe(2);
    await expect(w.flush()).rejects.toThrow(/not-yet not found/);
    await store.createRun({ id: "not-yet", method: "m" });
    await w.close();
    expect(w.flushed).toBe(2);
    expect(await count(store, "not-yet")).toBe(2);
  });

  it("supports resume: last step, drop points past the checkpoint", async () => {
    expect(await store.lastMetricStep(run.id)).toBeNull();
    expect(await store.metricKeys(run.id)).toEqual([]);
    const points = [];
    for (let step = 0; step < 100; step++) points.push({ key: "loss", step, value: step });
    for (let step = 0; step <= 60; step += 10) points.push({ key: "knn/top1", step, value: step / 100 });
    points.push({ key: "late", step: 80, value: 1 });
    await store.appendMetrics(run.id, points);
    expect(await store.metricKeys(run.id)).toEqual(["knn/top1", "late", "loss"]);
    expect(await store.lastMetricStep(run.id)).toBe(99);
    expect(await store.deleteMetricsAfter(run.id, 40)).toBe(59 + 2 + 1);
    expect(await store.lastMetricStep(run.id)).toBe(40);
    expect(await store.metricKeys(run.id)).toEqual(["knn/top1", "loss"]);
    // Replaying steps 41.. leaves one point per step.
    const w = store.metricWriter(run.id);
    for (let step = 41; step < 100; step++) w.write("loss", step, -step);
    await w.close();
    expect(await count(store, run.id)).toBe(100 + 5);
    await expect(store.deleteMetricsAfter(run.id, -1)).rejects.toThrow(/step/);
  });

  it("returns raw points up to maxPoints, in key order, empty for unknown keys", async () => {
    const points = [];
    for (let step = 0; step < 50; step++) points.push({ key: "loss", step: step * 2, value: Math.sin(step) });
    await store.appendMetrics(run.id, points);
    const [missing, loss] = await store.readSeries(run.id, ["nope", "loss"], { maxPoints: 50 });
    expect(missing).toEqual({ key: "nope", points: [], total: 0, downsampled: false });
    expect(loss.downsampled).toBe(false);
    expect(loss.total).toBe(50);
    expect(loss.points.map((p) => p.x)).toEqual(points.map((p) => p.step));
    expect(loss.points.map((p) => p.y)).toEqual(points.map((p) => p.value));
    expect(loss.points.every((p) => p.count === 1 && p.min === p.y && p.max === p.y)).toBe(true);
    // Range on steps is inclusive.
    const [ranged] = await store.readSeries(run.id, ["loss"], { range: { from: 10, to: 20 } });
    expect(ranged.points.map((p) => p.x)).toEqual([10, 12, 14, 16, 18, 20]);
    await expect(store.readSeries(run.id, ["loss"], { maxPoints: 10_001 })).rejects.toThrow(/maxPoints/);
    await expect(store.readSeries(run.id, ["loss"], { maxPoints: 1 })).rejects.toThrow(/maxPoints/);
    await expect(store.readSeries(run.id, [])).rejects.toThrow(/keys/);
    await expect(store.readSeries(run.id, ["a b"])).rejects.toThrow(/keys\.0/);
    await expect(store.readSeries(run.id, ["loss"], { range: { from: 5, to: 1 } })).rejects.toThrow(/range/);
  });

  it("downsamples in SQL keeping the global min and max, at most maxPoints", async () => {
    const n = 5_000;
    const t0 = Date.parse("2024-06-01T00:00:00Z");
    const points = [];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let step = 0; step < n; step++) {
      let value = Math.exp(-step / 5000) + 0.05 * (rand() - 0.5);
      if (step === 3_210) value = 50; // a single spike
      if (step === 1_234) value = -50; // a single dip
      points.push({ key: "loss", step, value, wallTime: new Date(t0 + step * 100) });
      if (step % 7 === 0)
        points.push({ key: "lr", step, value: 0.1 * (1 - step / n), wallTime: new Date(t0 + step * 100) });
    }
    await store.appendMetrics(run.id, points);
    const lossValues = points.filter((p) => p.key === "loss").map((p) => p.value);
    const lossMean = lossValues.reduce((a, b) => a + b, 0) / lossValues.length;

    for (const maxPoints of [2, 100, 999]) {
      const [loss, lr] = await store.readSeries(run.id, ["loss", "lr"], { maxPoints });
      for (const s of [loss, lr]) {
        expect(s.downsampled).toBe(s.total > maxPoints);
        expect(s.points.length).toBeLessThanOrEqual(maxPoints);
        expect(s.points.length).toBeGreaterThan(Math.min(s.total, maxPoints) * 0.9);
        for (let i = 1; i < s.points.length; i++) expect(s.points[i].x).toBeGreaterThan(s.points[i - 1].x);
        for (const p of s.points) {
          expect(p.min).toBeLessThanOrEqual(p.y + 1e-12);
          expect(p.max).toBeGreaterThanOrEqual(p.y - 1e-12);
        }
      }
      expect(loss.total).toBe(n);
      expect(loss.points.reduce((a, p) => a + p.count, 0)).toBe(n);
      expect(Math.max(...loss.points.map((p) => p.max))).toBe(50);
      expect(Math.min(...loss.points.map((p) => p.min))).toBe(-50);
      // Means of buckets weighted by count give back the global mean.
      const weighted = loss.points.reduce((a, p) => a + p.y * p.count, 0) / n;
      expect(weighted).toBeCloseTo(lossMean, 9);
      expect(lr.total).toBe(Math.ceil(n / 7));
    }

    // y: last takes the last point of each bucket.
    const [last] = await store.readSeries(run.id, ["loss"], { maxPoints: 10, y: "last" });
    expect(last.points.length).toBe(10);
    expect(last.points[9]).toMatchObject({ x: n - 1, y: lossValues[n - 1] });
    // 5,000 steps into 10 buckets read level 2 (blocks of 256 steps): bucket edges fall on block
    // edges, so the first bucket holds the 2 blocks that start before step 500.
    expect(last.points[0]).toMatchObject({ x: 511, y: lossValues[511], count: 512 });

    // Range + downsampling: the spike inside the range is kept, the dip outside is not.
    const [ranged] = await store.readSeries(run.id, ["loss"], {
      maxPoints: 50,
      range: { from: 2_500, to: 3_750 },
    });
    expect(ranged.total).toBe(1251);
    expect(ranged.points.length).toBeLessThanOrEqual(50);
    expect(Math.max(...ranged.points.map((p) => p.max))).toBe(50);
    expect(Math.min(...ranged.points.map((p) => p.min))).toBeGreaterThan(-1);
    expect(ranged.points[0].x).toBeGreaterThanOrEqual(2_500);

    // Time axes.
    const [wall] = await store.readSeries(run.id, ["loss"], {
      maxPoints: 100,
      xAxis: "wall_time",
      y: "last",
    });
    expect(wall.points[wall.points.length - 1].x).toBe(t0 + (n - 1) * 100);
    const [rel] = await store.readSeries(run.id, ["loss"], {
      maxPoints: 10_000,
      xAxis: "relative_time",
      range: { to: 100 },
    });
    expect(rel.downsampled).toBe(false);
    expect(rel.total).toBe(1001);
    expect(rel.points[0].x).toBe(0);
    expect(rel.points[1000].x).toBeCloseTo(100, 6);
    const [relAll] = await store.readSeries(run.id, ["loss"], {
      maxPoints: 100,
      xAxis: "relative_time",
      y: "last",
    });
    expect(relAll.points[relAll.points.length - 1].x).toBeCloseTo((n - 1) * 0.1, 6);
    const [relLr] = await store.readSeries(run.id, ["lr"], {
      maxPoints: 10_000,
      xAxis: "relative_time",
      range: { from: 0, to: 1 },
    });
    expect(relLr.points.map((p) => p.x)).toEqual([0, 0.7]);
  });
}

/** A seeded PRNG (mulberry32), so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Peak exactness of the pyramid levels: on random series (dense runs and sparse jumps, so every
 * level from raw to blocks of 1,048,576 steps is used) and random ranges, each bucket's count, min
 * and max equal a brute-force aggregation over the raw points it covers. With y: 'last' the
 * bucket's x is its last step, so bucket i covers the steps (x[i-1], x[i]] inside the range.
 */
export function seriesLevelsSuite(ctx: SuiteContext): void {
  let store: RunStore;
  beforeEach(async () => {
    store = ctx.store;
    await reset(store);
  });

  it("every bucket's min, max and count equal brute force over the raw points (random series and ranges)", async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const rand = prng(seed);
      const run = await store.createRun({ method: "prop", status: "running" });
      const raw = new Map<number, number>();
      let step = Math.floor(rand() * 100);
      while (raw.size < 3000) {
        raw.set(step, Math.round((rand() - 0.5) * 2000) / 8 + 0); // + 0: no -0 (stored as 0)
        const r = rand();
        step += r < 0.8 ? 1 : r < 0.95 ? 1 + Math.floor(rand() * 500) : 1 + Math.floor(rand() * 400_000);
      }
      const points = [...raw].map(([s, value]) => ({ key: "m", step: s, value }));
      // Two overlapping batches plus a replay and an overwrite: the levels must match one clean
      // write. The first and last batches append (levels added up in JS), the others overwrite.
      await store.appendMetrics(run.id, points.slice(0, 2000));
      await store.appendMetrics(run.id, points.slice(1500, 2600));
      await store.appendMetrics(run.id, points.slice(100, 400));
      await store.appendMetrics(run.id, points.slice(2600));
      const steps = [...raw.keys()].sort((a, b) => a - b);
      const lastStep = steps[steps.length - 1];
      for (let q = 0; q < 12; q++) {
        const a = Math.floor(rand() * lastStep * 1.05);
        const b = Math.floor(rand() * lastStep * 1.05);
        const range = q === 0 ? undefined : { from: Math.min(a, b), to: Math.max(a, b) };
        const maxPoints = 2 + Math.floor(rand() * 60);
        const inRange = steps.filter((s) => !range || (s >= range.from && s <= range.to));
        const [last] = await store.readSeries(run.id, ["m"], { maxPoints, y: "last", range });
        const [mean] = await store.readSeries(run.id, ["m"], { maxPoints, y: "mean", range });
        const where = `seed ${seed}, query ${q}, maxPoints ${maxPoints}, range ${JSON.stringify(range)}`;
        expect(last.total, where).toBe(inRange.length);
        expect(mean.total, where).toBe(inRange.length);
        expect(last.points.length, where).toBeLessThanOrEqual(maxPoints);
        expect(mean.points.length, where).toBe(last.points.length);
        let i = 0;
        let prev = Number.NEGATIVE_INFINITY;
        for (const [k, bucket] of last.points.entries()) {
          const members: number[] = [];
          while (i < inRange.length && inRange[i] <= bucket.x) members.push(raw.get(inRange[i++])!);
          expect(inRange.includes(bucket.x), where).toBe(true);
          expect(bucket.x, where).toBeGreaterThan(prev);
          prev = bucket.x;
          expect(bucket.count, where).toBe(members.length);
          expect(bucket.min, where).toBe(Math.min(...members));
          expect(bucket.max, where).toBe(Math.max(...members));
          expect(bucket.y, where).toBe(raw.get(bucket.x));
          const m = mean.points[k];
          expect([m.count, m.min, m.max], where).toEqual([bucket.count, bucket.min, bucket.max]);
          expect(m.y, where).toBeCloseTo(members.reduce((s, v) => s + v, 0) / members.length, 9);
        }
        expect(i, where).toBe(inRange.length);
      }
      // Resume drops points past a step; the levels follow.
      const cut = steps[Math.floor(steps.length / 2)];
      await store.deleteMetricsAfter(run.id, cut);
      const kept = steps.filter((s) => s <= cut);
      const [after] = await store.readSeries(run.id, ["m"], { maxPoints: 7, y: "last" });
      expect(after.total).toBe(kept.length);
      expect(Math.max(...after.points.map((p) => p.max))).toBe(Math.max(...kept.map((s) => raw.get(s)!)));
      expect(after.points[after.points.length - 1].x).toBe(cut);
      const stale = await store.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM metric_levels l JOIN metric_series s ON s.id = l.series_id
         WHERE s.run_id = $1 AND l.last_step > $2`,
        [run.id, cut],
      );
      expect(Number(stale[0].n)).toBe(0);
      await expectLevelsAsRebuilt(store, run.id);
    }
  });

  it("on the wall_time and relative_time axes too (random times: jumps, ties, out of order)", async () => {
    for (let seed = 11; seed <= 12; seed++) {
      const rand = prng(seed);
      const run = await store.createRun({ method: "prop", status: "running" });
      const n = 1500;
      const raw: Array<{ step: number; value: number; tm: number }> = [];
      let t = Date.parse("2025-01-01T00:00:00Z") + Math.floor(rand() * 1e6);
      for (let step = 0; step < n; step++) {
        const r = rand();
        // Mostly tens of ms apart, some ties, some jumps of minutes to months, a few steps back.
        t +=
          r < 0.7
            ? Math.floor(rand() * 120)
            : r < 0.8
              ? 0
              : r < 0.93
                ? Math.floor(rand() * 600_000)
                : r < 0.97
                  ? Math.floor(rand() * 30 * 86_400_000)
                  : -Math.floor(rand() * 5_000);
        raw.push({ step: step * 3, value: Math.round((rand() - 0.5) * 4000) / 16 + 0, tm: t });
      }
      const points = raw.map((p) => ({ key: "m", step: p.step, value: p.value, wallTime: new Date(p.tm) }));
      await store.appendMetrics(run.id, points.slice(0, 700));
      await store.appendMetrics(run.id, points.slice(600, 1100));
      // A replay with other times: the points move between time blocks.
      await store.appendMetrics(
        run.id,
        points.slice(200, 320).map((p) => ({ ...p, wallTime: new Date(p.wallTime.getTime() + 777) })),
      );
      for (const p of raw.slice(200, 320)) p.tm += 777;
      const w = store.metricWriter(run.id, { flushEvery: 250, flushIntervalMs: 0 });
      for (const p of points.slice(1100)) w.write("m", p.step, p.value, p.wallTime);
      await w.close();
      await expectLevelsAsRebuilt(store, run.id);
      const byTime = [...raw].sort((a, b) => a.tm - b.tm || a.step - b.step);
      const origin = raw[0].tm;
      const tmin = byTime[0].tm;
      const tmax = byTime[byTime.length - 1].tm;
      for (const xAxis of ["wall_time", "relative_time"] as const) {
        const toX = (tm: number) => (xAxis === "wall_time" ? tm : (tm - origin) / 1000);
        for (let q = 0; q < 7; q++) {
          const a = toX(tmin + Math.floor(rand() * (tmax - tmin) * 1.05) - 1000);
          const b = toX(tmin + Math.floor(rand() * (tmax - tmin) * 1.05) - 1000);
          const range = q === 0 ? undefined : { from: Math.min(a, b), to: Math.max(a, b) };
          const maxPoints = 2 + Math.floor(rand() * 60);
          const inRange = byTime.filter((p) => !range || (toX(p.tm) >= range.from && toX(p.tm) <= range.to));
          const where = `seed ${seed}, ${xAxis}, query ${q}, maxPoints ${maxPoints}, range ${JSON.stringify(range)}`;
          const [last] = await store.readSeries(run.id, ["m"], { maxPoints, y: "last", range, xAxis });
          const [mean] = await store.readSeries(run.id, ["m"], { maxPoints, y: "mean", range, xAxis });
          expect(last.total, where).toBe(inRange.length);
          expect(mean.points.length, where).toBe(last.points.length);
          expect(last.points.length, where).toBeLessThanOrEqual(maxPoints);
          if (!last.downsampled) {
            // Few enough: every point, in (time, step) order, even several at one millisecond.
            expect(
              last.points.map((p) => [p.x, p.y, p.count]),
              where,
            ).toEqual(inRange.map((p) => [toX(p.tm), p.value, 1]));
            continue;
          }
          let i = 0;
          for (const [k, bucket] of last.points.entries()) {
            const members: typeof raw = [];
            while (i < inRange.length && toX(inRange[i].tm) <= bucket.x) members.push(inRange[i++]);
            expect(members.length, where).toBeGreaterThan(0);
            expect(bucket.x, where).toBe(toX(members[members.length - 1].tm));
            expect(bucket.count, where).toBe(members.length);
            expect(bucket.min, where).toBe(Math.min(...members.map((p) => p.value)));
            expect(bucket.max, where).toBe(Math.max(...members.map((p) => p.value)));
            expect(bucket.y, where).toBe(members[members.length - 1].value);
            const m = mean.points[k];
            expect([m.count, m.min, m.max], where).toEqual([bucket.count, bucket.min, bucket.max]);
            expect(m.y, where).toBeCloseTo(members.reduce((s, p) => s + p.value, 0) / members.length, 9);
          }
          expect(i, where).toBe(inRange.length);
        }
      }
      // Resume: the time levels follow the cut as well.
      const cut = raw[1000].step;
      await store.deleteMetricsAfter(run.id, cut);
      await expectLevelsAsRebuilt(store, run.id);
      const kept = raw.filter((p) => p.step <= cut);
      const [after] = await store.readSeries(run.id, ["m"], { maxPoints: 9, y: "last", xAxis: "wall_time" });
      expect(after.total).toBe(kept.length);
      expect(Math.max(...after.points.map((p) => p.max))).toBe(Math.max(...kept.map((p) => p.value)));
      expect(after.points[after.points.length - 1].x).toBe(Math.max(...kept.map((p) => p.tm)));
    }
  });

  it("deletes a run's points and levels with the run, and refuses points for a missing run", async () => {
    const a = await store.createRun({ method: "m" });
    const b = await store.createRun({ method: "m" });
    const pts = Array.from({ length: 300 }, (_, i) => ({
      key: "loss",
      step: i,
      value: i,
      wallTime: 1e12 + i * 1000,
    }));
    await store.appendMetrics(a.id, pts);
    await store.appendMetrics(b.id, pts);
    // By the series ids the run had: its series rows go with it, so a join would count nothing.
    const ids = new Map<string, number[]>();
    const seriesOf = async (id: string) => {
      const r = await store.db.query<{ id: number }>("SELECT id FROM metric_series WHERE run_id = $1", [id]);
      ids.set(id, [...(ids.get(id) ?? []), ...r.map((x) => Number(x.id))]);
    };
    const rows = async (id: string) => {
      const r = await store.db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM metric_points WHERE series_id = ANY($1::int[]))
              + (SELECT count(*) FROM metric_levels WHERE series_id = ANY($1::int[]))
              + (SELECT count(*) FROM metric_time_levels WHERE series_id = ANY($1::int[]))
              + (SELECT count(*) FROM metric_series WHERE run_id = $2) AS n`,
        [ids.get(id) ?? [], id],
      );
      return Number(r[0].n);
    };
    await seriesOf(a.id);
    await seriesOf(b.id);
    expect(await rows(a.id)).toBeGreaterThan(300);
    expect(await store.deleteRun(a.id)).toBe(true);
    expect(await rows(a.id)).toBe(0);
    expect(await rows(b.id)).toBeGreaterThan(300);
    // Around the store: a plain DELETE, and TRUNCATE.
    await store.db.query("DELETE FROM runs WHERE id = $1", [b.id]);
    expect(await rows(b.id)).toBe(0);
    const c = await store.createRun({ method: "m" });
    await store.appendMetrics(c.id, pts);
    await seriesOf(c.id);
    expect(await rows(c.id)).toBeGreaterThan(300);
    await store.db.exec("TRUNCATE runs CASCADE");
    expect(await rows(c.id)).toBe(0);
    // Points for a run that does not exist (any more) are refused, naming it.
    const err = await store.appendMetrics(a.id, pts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe("not_found");
    expect((err as StoreError).message).toContain(a.id);
    expect(await rows(a.id)).toBe(0);
  });
}

/**
 * The levels a run's writes left (appends added up in JS, overwrites and resume rebuilt in SQL)
 * equal the levels rebuilt from its points: counts, min, max, first / last and step ranges
 * exactly, sums to rounding.
 */
async function expectLevelsAsRebuilt(store: RunStore, runId: string): Promise<void> {
  const snapshot = async () => ({
    step: await store.db.query<Record<string, unknown>>(
      `SELECT s.key, level, block::float8 AS block, n, vmin, vmax, vsum, ssum, first_step::float8 AS fs,
              last_step::float8 AS ls, first_value, last_value
       FROM metric_levels l JOIN metric_series s ON s.id = l.series_id WHERE s.run_id = $1 ORDER BY key, level, block`,
      [runId],
    ),
    time: await store.db.query<Record<string, unknown>>(
      `SELECT s.key, level, block::float8 AS block, n, vmin, vmax, vsum, tsum, tmin, tmax, smin::float8 AS smin,
              smax::float8 AS smax, last_value
       FROM metric_time_levels l JOIN metric_series s ON s.id = l.series_id WHERE s.run_id = $1
       ORDER BY key, level, block`,
      [runId],
    ),
  });
  const written = await snapshot();
  await store.rebuildSeriesLevels(runId);
  const rebuilt = await snapshot();
  for (const kind of ["step", "time"] as const) {
    expect(written[kind].length, kind).toBe(rebuilt[kind].length);
    for (const [i, row] of written[kind].entries()) {
      const want = rebuilt[kind][i];
      for (const [col, v] of Object.entries(row)) {
        if (col === "vsum" || col === "ssum" || col === "tsum")
          expect(Number(v), `${kind} ${col} ${JSON.stringify(want)}`).toBeCloseTo(Number(want[col]), 3);
        else expect(v, `${kind} ${col} ${JSON.stringify(want)}`).toEqual(want[col]);
      }
    }
  }
}
