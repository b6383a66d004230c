/**
 * The store half of the dashboard bench: the queries the runs page and the run page make,
 * straight on @selfsup/store (no HTTP), timed on one driver, plus the metric writer's throughput.
 * bench.mjs runs it on PGlite and, when TEST_DATABASE_URL is set, on PostgreSQL.
 *
 * For PGlite, which runs inside this process on one thread, each sample also records the CPU time
 * the process spent: on a machine shared with other work, that is close to what the wall time
 * would be on an idle one.
 */
import { pct } from "./util.mjs";

export { pct };

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Times `fn` n times after one warm-up; returns wall and CPU samples (ms). */
export async function sample(n, fn, { warm = true } = {}) {
  if (warm) await fn(-1);
  const wall = [];
  const cpu = [];
  for (let i = 0; i < n; i++) {
    const c = cpuMs();
    const t = performance.now();
    await fn(i);
    wall.push(performance.now() - t);
    cpu.push(cpuMs() - c);
  }
  return { wall, cpu };
}

/**
 * Runs every query; `report(name, samples, note)` gets each result. `series` is the id of the
 * seeded long series (its point count in `points`).
 */
export async function benchStoreQueries(
  store,
  { iterations, seriesIterations, points, report, series = true },
) {
  const page = { first: 100 };
  const queries = [
    ["runs: first 100, newest first", () => store.listRuns(page)],
    [
      "runs: sorted by summary knn_top1",
      () => store.listRuns({ ...page, orderBy: { field: "summary:knn_top1", direction: "desc" } }),
    ],
    [
      "runs: filter method + status",
      () => store.listRuns({ ...page, filter: { method: "byol", status: ["finished"] } }),
    ],
    ["runs: filter tag", () => store.listRuns({ ...page, filter: { tag: "paper" } })],
    ["runs: text search", () => store.listRuns({ ...page, filter: { search: "vicreg-4242" } })],
  ];
  for (const [name, fn] of queries) report(name, await sample(iterations, fn));

  // A deep page: the 51st page of 100, newest first and by a summary metric.
  for (const orderBy of [undefined, { field: "summary:knn_top1", direction: "desc" }]) {
    let after = null;
    for (let i = 0; i < 50; i++)
      after = (await store.listRuns({ ...page, orderBy, after })).pageInfo.endCursor;
    report(
      `runs: page 51 (keyset cursor${orderBy ? ", by knn_top1" : ""})`,
      await sample(iterations, () => store.listRuns({ ...page, orderBy, after })),
    );
  }
  report("runCount (all runs)", await sample(iterations, () => store.countRuns()));
  report(
    "runCount (method + status)",
    await sample(iterations, () => store.countRuns({ method: "byol", status: ["finished"] })),
  );

  if (!series) return;
  // Series: each read asks for another maxPoints, so nothing can come from a cache.
  let check;
  const cold = await sample(
    seriesIterations,
    async (i) => {
      [check] = await store.readSeries("bench-series", ["loss"], { maxPoints: 1000 - i });
    },
    { warm: false },
  );
  report(
    `series: ${points.toLocaleString("en-US")} -> ~1,000 buckets, cold`,
    cold,
    `(total ${check.total}, ${check.points.length} buckets, max ${Math.max(...check.points.map((p) => p.max))})`,
  );
  const ranged = await sample(
    seriesIterations,
    async (i) => {
      const from = Math.floor(points * 0.1) + i * 7919;
      await store.readSeries("bench-series", ["loss"], {
        maxPoints: 1000,
        range: { from, to: from + Math.floor(points * 0.37) },
      });
    },
    { warm: false },
  );
  report("series: a ragged 37% range -> 1,000 buckets, cold", ranged);

  // The wall-time axes read the time levels the same way.
  for (const xAxis of ["wall_time", "relative_time"]) {
    let s;
    const timed = await sample(
      seriesIterations,
      async (i) => {
        [s] = await store.readSeries("bench-series", ["loss"], { maxPoints: 1000 - i, xAxis });
      },
      { warm: false },
    );
    report(
      `series: ${points.toLocaleString("en-US")} -> ~1,000 buckets on ${xAxis}, cold`,
      timed,
      `(total ${s.total}, ${s.points.length} buckets, max ${Math.max(...s.points.map((p) => p.max))})`,
    );
  }
}

/**
 * The metric writer: `count` points of 4 keys from one process, buffered and flushed by the
 * writer, series levels maintained. Returns points per second (wall clock, and per second of this
 * process's CPU time: for PGlite that includes the database), and the slowest write() call (a
 * training step's cost of logging: it never waits on the database).
 */
export async function benchWriter(store, count) {
  const run = await store.createRun({ method: "bench-writer", status: "running" });
  const writer = store.metricWriter(run.id, { flushEvery: 5000 });
  const keys = ["loss", "lr", "grad_norm", "knn"];
  let slowest = 0;
  const c0 = cpuMs();
  const t0 = performance.now();
  const steps = count / keys.length;
  for (let step = 0; step < steps; step++) {
    const t = performance.now();
    for (const key of keys) writer.write(key, step, Math.sin(step / 100) + key.length);
    slowest = Math.max(slowest, performance.now() - t);
    // Yield now and then, as a training loop does between steps, so flushes make progress.
    if (step % 2000 === 0) await new Promise((r) => setImmediate(r));
  }
  await writer.close();
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = (cpuMs() - c0) / 1000;
  const [s] = await store.readSeries(run.id, ["loss"], { maxPoints: 100 });
  if (s.total !== steps) throw new Error(`writer bench: ${s.total} of ${steps} points arrived`);
  await store.deleteRun(run.id);
  return {
    pointsPerSecond: count / seconds,
    pointsPerCpuSecond: count / cpuSeconds,
    slowestWriteMs: slowest,
  };
}
