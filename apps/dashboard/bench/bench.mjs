#!/usr/bin/env node
/**
 * Dashboard figures (`pnpm bench dashboard`, or `node apps/dashboard/bench/bench.mjs`):
 *
 *   1. On each driver (embedded PGlite; PostgreSQL too when TEST_DATABASE_URL is set): seed
 *      100,000 runs and one 10,000,000-point series with generate_series (timed), then time the
 *      queries the runs page makes (newest first, sorted by a summary metric, filtered, searched,
 *      a deep keyset page, the counts) and the run page's series read (10M points down to ~1,000
 *      buckets through the series levels, cold), straight on @selfsup/store; then the metric
 *      writer's points per second with levels maintained (its first run in the process, and a
 *      second: the sustained rate). See store-queries.mjs.
 *   2. Against the BUILT app (`scripts/start.mjs`) over the PGlite store: the runs page's GraphQL query
 *      over HTTP, the series query, and first paint in Chromium.
 *
 * Usage (after `pnpm --filter @selfsup/dashboard build`):
 *
 *   node apps/dashboard/bench/bench.mjs [--runs 100000] [--points 10000000] [--iterations 30]
 *        [--series-iterations 5] [--paint-iterations 5] [--writer-points 200000] [--no-http] [--keep DIR]
 *        [--pg-runs 1000000]
 *
 * --pg-runs N (with TEST_DATABASE_URL): also seed N runs into another PostgreSQL schema and time
 * the runs queries there (opt-in: 1,000,000 runs take a while to seed).
 *
 * CHROMIUM_PATH overrides /usr/bin/chromium (first paint is skipped without a browser). The
 * PostgreSQL half seeds into its own schema and drops it afterwards.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startNextApp } from "@selfsup/runner/testing";
import { benchStoreQueries, benchWriter } from "./store-queries.mjs";
import { arg, pct } from "./util.mjs";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(appDir, "package.json"));

const RUNS = arg("runs", 100_000);
const POINTS = arg("points", 10_000_000);
const ITER = arg("iterations", 30);
const SERIES_ITER = arg("series-iterations", 5);
const WRITER_POINTS = arg("writer-points", 200_000);
const NO_HTTP = process.argv.includes("--no-http");
const PG_URL = process.env.TEST_DATABASE_URL || "";
const PAINT_ITER = arg("paint-iterations", 5);
const PG_RUNS = arg("pg-runs", 0);
const KEEP = arg("keep", "");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const log = (...a) => console.error("[bench]", ...a);

const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const rows = [];
let driverLabel = "pglite";
/** `samples`: an array of wall-clock ms, or { wall, cpu } from store-queries.mjs's sample(). */
function report(name, samples, note = "") {
  const wall = Array.isArray(samples) ? samples : samples.wall;
  const cpu = Array.isArray(samples) ? undefined : samples.cpu;
  const row = {
    driver: driverLabel,
    name,
    n: wall.length,
    p50: pct(wall, 50),
    p95: pct(wall, 95),
    cpu50: cpu && driverLabel === "pglite" ? pct(cpu, 50) : undefined,
    cpu95: cpu && driverLabel === "pglite" ? pct(cpu, 95) : undefined,
    note,
  };
  rows.push(row);
  log(
    `[${row.driver}] ${name}: p50 ${ms(row.p50)} ms, p95 ${ms(row.p95)} ms` +
      (row.cpu95 !== undefined ? ` (cpu p50 ${ms(row.cpu50)}, p95 ${ms(row.cpu95)})` : "") +
      ` (n=${row.n}) ${note}`,
  );
}
function note(name, value, unit) {
  rows.push({ driver: driverLabel, name, value, unit });
  log(`[${driverLabel}] ${name}: ${value} ${unit}`);
}

async function gql(url, query, variables) {
  const t = performance.now();
  const res = await fetch(`${url}/api/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  const dt = performance.now() - t;
  if (body.errors) throw new Error(body.errors.map((e) => e.message).join("; "));
  return { dt, data: body.data };
}

// The runs page's own query (see src/client/RunsTable.tsx).
const RUNS_QUERY = `
query Runs($filter: RunFilter, $orderBy: RunOrder, $first: Int, $after: String) {
  runs(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    edges { node { id name method family dataset backbone backend host status tags createdAt durationSeconds summary } }
    pageInfo { hasNextPage endCursor }
  }
}`;

async function timeQuery(url, name, query, variables, n, note) {
  await gql(url, query, variables); // warm-up (JIT, plans)
  const samples = [];
  for (let i = 0; i < n; i++) samples.push((await gql(url, query, variables)).dt);
  report(name, samples, note);
}

async function main() {
  if (!existsSync(path.join(appDir, ".next", "BUILD_ID"))) {
    throw new Error("build the dashboard first: pnpm --filter @selfsup/dashboard build");
  }
  const { openStore } = await import("@selfsup/store");
  const { seedBulk } = await import("../scripts/seed.mjs");
  const home = KEEP || mkdtempSync(path.join(tmpdir(), "selfsup-dashboard-bench-"));
  const dataDir = path.join(home, "db");
  const drivers = [{ label: "pglite", options: { dataDir } }];
  const pgSchema = KEEP ? "bench_dashboard_keep" : `bench_dashboard_${process.pid}`;
  if (PG_URL) drivers.push({ label: "postgres", options: { url: PG_URL, schema: pgSchema } });
  if (PG_URL && PG_RUNS > 0)
    drivers.push({
      label: `postgres, ${PG_RUNS.toLocaleString("en-US")} runs`,
      options: { url: PG_URL, schema: `${pgSchema}_big` },
      runs: PG_RUNS,
      points: 0,
    });
  if (!PG_URL) log('TEST_DATABASE_URL is not set: PostgreSQL skipped (eval "$(bash .ci/start-postgres.sh)")');
  let seeded = false;
  for (const d of drivers) {
    driverLabel = d.label;
    const store = await openStore(d.options);
    try {
      const existing = await store.countRuns();
      if (existing === 0) {
        const runs = d.runs ?? RUNS;
        const points = d.points ?? POINTS;
        log(
          `[${d.label}] seeding ${runs.toLocaleString("en-US")} runs and ${points.toLocaleString("en-US")} points (generate_series)…`,
        );
        const t = performance.now();
        const c = process.cpuUsage();
        await seedBulk(store, {
          runs,
          points,
          log: (m) => log(`[${d.label}] seeded ${m} at ${((performance.now() - t) / 1000).toFixed(1)} s`),
        });
        // What autovacuum does on a server: statistics, and the visibility map index-only counts need.
        await store.db.exec("VACUUM ANALYZE");
        const cpu = process.cpuUsage(c);
        note(
          "seed: runs + series + levels + VACUUM ANALYZE",
          ((performance.now() - t) / 1000).toFixed(1),
          d.label === "pglite" ? `s (cpu ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s)` : "s",
        );
        seeded = true;
      } else {
        log(`[${d.label}] reusing ${existing} runs`);
      }
      await benchStoreQueries(store, {
        iterations: ITER,
        seriesIterations: SERIES_ITER,
        points: POINTS,
        report,
        series: (d.points ?? POINTS) > 0,
      });
      if (WRITER_POINTS > 0 && d.points === undefined) {
        // Twice: the 1st run pays start-up (V8 compiling the writer's code and, for PGlite,
        // tiering up the database's WebAssembly as it runs); the 2nd is the rate a running
        // trainer sustains.
        for (const phase of ["1st run", "2nd run (sustained)"]) {
          const w = await benchWriter(store, WRITER_POINTS);
          note(
            `writer: ${WRITER_POINTS.toLocaleString("en-US")} points (4 keys), levels maintained, ${phase}`,
            Math.round(w.pointsPerSecond).toLocaleString("en-US"),
            `points/s${d.label === "pglite" ? ` (${Math.round(w.pointsPerCpuSecond).toLocaleString("en-US")} per CPU second)` : ""} (slowest write() of a step ${w.slowestWriteMs.toFixed(2)} ms)`,
          );
        }
      }
    } finally {
      if (d.label.startsWith("postgres") && !KEEP)
        await store.db.exec(`DROP SCHEMA IF EXISTS ${d.options.schema} CASCADE`);
      await store.close();
    }
  }
  driverLabel = "pglite, HTTP";
  if (NO_HTTP) {
    printTable(seeded);
    if (!KEEP) rmSync(home, { recursive: true, force: true });
    return;
  }

  // as users start it (scripts/start.mjs), through the tests' one starter
  const server = await startNextApp({
    dir: appDir,
    script: "scripts/start.mjs",
    env: { SELFSUP_HOME: home },
    timeoutMs: 60_000,
  });
  const { url } = server;
  try {
    // ---------------------------------------------------------------- runs
    const page = { first: 100 };
    await timeQuery(url, "runs: first 100, newest first", RUNS_QUERY, page, ITER);
    await timeQuery(
      url,
      "runs: sorted by summary knn_top1",
      RUNS_QUERY,
      { ...page, orderBy: { field: "SUMMARY", summaryKey: "knn_top1", direction: "DESC" } },
      ITER,
    );
    await timeQuery(
      url,
      "runs: filter method + status",
      RUNS_QUERY,
      { ...page, filter: { method: "byol", status: ["FINISHED"] } },
      ITER,
    );
    await timeQuery(
      url,
      "runs: text search",
      RUNS_QUERY,
      { ...page, filter: { search: "vicreg-4242" } },
      ITER,
    );
    {
      let after = null;
      for (let i = 0; i < 50; i++)
        after = (await gql(url, RUNS_QUERY, { ...page, after })).data.runs.pageInfo.endCursor;
      await timeQuery(url, "runs: page 51 (keyset cursor)", RUNS_QUERY, { ...page, after }, ITER);
    }
    await timeQuery(url, "runCount (all runs)", "{ runCount }", {}, ITER);

    // ---------------------------------------------------------------- series
    const SERIES = `query($maxPoints: Int!) { run(id: "bench-series") { series(keys: ["loss"], maxPoints: $maxPoints) { total downsampled points { x y min max count } } } }`;
    const cold = [];
    let check;
    for (let i = 0; i < SERIES_ITER; i++) {
      const r = await gql(url, SERIES, { maxPoints: 1000 - i }); // a new maxPoints misses the cache
      cold.push(r.dt);
      check = r.data.run.series[0];
    }
    const maxOfMax = Math.max(...check.points.map((p) => p.max));
    report(
      `series: ${POINTS.toLocaleString("en-US")} -> ~1,000 points, cold`,
      cold,
      `(total ${check.total}, ${check.points.length} buckets, global max kept: ${maxOfMax})`,
    );
    const warm = [];
    for (let i = 0; i < ITER; i++)
      warm.push((await gql(url, SERIES, { maxPoints: 1000 - SERIES_ITER + 1 })).dt);
    report("series: same query again (finished run, cached)", warm);

    // ---------------------------------------------------------------- first paint
    if (existsSync(CHROMIUM)) {
      const { chromium } = require("playwright-core");
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--no-sandbox",
          "--headless",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--no-first-run",
        ],
      });
      try {
        const fcp = [];
        const firstRow = [];
        for (let i = 0; i < PAINT_ITER + 1; i++) {
          const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
          // Before any page script: note when the first table row enters the DOM, then the frame
          // after it (when it is on screen). Server-rendered rows arrive while the HTML is parsed.
          await ctx.addInitScript(() => {
            const w = window;
            const seen = () => {
              if (w.__firstRow !== undefined || !document.querySelector("[data-run-id]")) return false;
              w.__firstRow = null;
              requestAnimationFrame(() => requestAnimationFrame((t) => (w.__firstRow = t)));
              return true;
            };
            new MutationObserver((_m, obs) => seen() && obs.disconnect()).observe(document, {
              childList: true,
              subtree: true,
            });
          });
          const p = await ctx.newPage();
          await p.goto(`${url}/`, { waitUntil: "commit" });
          await p.waitForSelector("[data-run-id]", { timeout: 120_000 });
          await p.waitForFunction(() => typeof window.__firstRow === "number");
          const t = await p.evaluate(() => ({
            fcp: performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? Number.NaN,
            row: window.__firstRow,
          }));
          if (i > 0) {
            // the first load also warms the server (route compilation, store caches)
            fcp.push(t.fcp);
            firstRow.push(t.row);
          }
          await ctx.close();
        }
        report("runs page: first contentful paint", fcp);
        report(
          "runs page: first row on screen",
          firstRow,
          "(navigation start -> frame after the first row entered the DOM; rows are server-rendered)",
        );
      } finally {
        await browser.close();
      }
    } else {
      log(`no chromium at ${CHROMIUM}: first paint skipped`);
    }
  } finally {
    await server.stop();
    if (!KEEP) rmSync(home, { recursive: true, force: true });
  }

  printTable(seeded);
}

function printTable(seeded) {
  console.log(
    `\n@selfsup/dashboard — ${RUNS.toLocaleString("en-US")} runs, ${POINTS.toLocaleString("en-US")}-point series${seeded ? "" : " (reused store)"}; cpu = this process's CPU time (PGlite runs in it)`,
  );
  console.log("| driver | measure | p50 ms | p95 ms | cpu p50 | cpu p95 | n | note |");
  console.log("|---|---|---:|---:|---:|---:|---:|---|");
  for (const r of rows) {
    if (r.value !== undefined) console.log(`| ${r.driver} | ${r.name} | ${r.value} ${r.unit} | | | | | |`);
    else
      console.log(
        `| ${r.driver} | ${r.name} | ${ms(r.p50)} | ${ms(r.p95)} | ${r.cpu50 === undefined ? "" : ms(r.cpu50)} | ${r.cpu95 === undefined ? "" : ms(r.cpu95)} | ${r.n} | ${r.note} |`,
      );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
