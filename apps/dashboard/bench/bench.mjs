#!/usr/bin/env node
/**
 * Dashboard figures, against the BUILT app (`next start`) over a freshly seeded embedded store:
 *
 *   - the runs query (the runs page's own query: 100 rows with summaries) over 100,000 runs:
 *     newest first, sorted by a summary metric, filtered, searched, a deep page, and the count;
 *   - a series query of 10,000,000 points down to 1,000 buckets (min/max kept), cold (each request
 *     misses the dashboard's cache of finished runs' series) and warm (repeated);
 *   - first paint of the runs page in Chromium: first contentful paint, and the first row on screen.
 *
 * Usage (after `pnpm --filter @selfsup/dashboard build`):
 *
 *   node apps/dashboard/bench/bench.mjs [--runs 100000] [--points 10000000] [--iterations 30]
 *                                       [--series-iterations 3] [--paint-iterations 5] [--keep DIR]
 *
 * Seeding writes the rows with generate_series in SQL (no JS loop). On PGlite the 10M points take
 * minutes to insert and each cold series query tens of seconds: PGlite scans ~300k rows/s, and
 * @selfsup/store's readSeries aggregates every point in range. The figures say so plainly.
 * CHROMIUM_PATH overrides /usr/bin/chromium (first paint is skipped without a browser).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(appDir, "package.json"));

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = process.argv[i + 1];
  return typeof dflt === "number" ? Number(v) : v;
}

const RUNS = arg("runs", 100_000);
const POINTS = arg("points", 10_000_000);
const ITER = arg("iterations", 30);
const SERIES_ITER = arg("series-iterations", 3);
const PAINT_ITER = arg("paint-iterations", 5);
const KEEP = arg("keep", "");
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const log = (...a) => console.error("[bench]", ...a);

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const rows = [];
function report(name, samples, note = "") {
  rows.push({ name, n: samples.length, p50: pct(samples, 50), p95: pct(samples, 95), note });
  log(
    `${name}: p50 ${ms(pct(samples, 50))} ms, p95 ${ms(pct(samples, 95))} ms (n=${samples.length}) ${note}`,
  );
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startServer(home) {
  const port = await freePort();
  const nextBin = require.resolve("next/dist/bin/next");
  const child = spawn(process.execPath, [nextBin, "start", "-H", "127.0.0.1", "-p", String(port)], {
    cwd: appDir,
    env: {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: "1",
      NEXT_MANUAL_SIG_HANDLE: "1",
      HOST: "127.0.0.1",
      SELFSUP_HOME: home,
      DATABASE_URL: "",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/login`)).status < 500) return { url, child };
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill("SIGKILL");
  throw new Error("next start did not come up");
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
  let seeded = false;
  {
    const store = await openStore({ dataDir });
    try {
      const existing = await store.countRuns();
      if (existing === 0) {
        log(
          `seeding ${RUNS.toLocaleString("en-US")} runs and ${POINTS.toLocaleString("en-US")} points into ${dataDir} (generate_series)…`,
        );
        const t = performance.now();
        await seedBulk(store, { runs: RUNS, points: POINTS });
        await store.db.exec("ANALYZE");
        log(`seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
        seeded = true;
      } else {
        log(`reusing ${existing} runs in ${dataDir}`);
      }
    } finally {
      await store.close();
    }
  }

  const { url, child } = await startServer(home);
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
    await new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
      setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
    });
    if (!KEEP) rmSync(home, { recursive: true, force: true });
  }

  console.log(
    `\n@selfsup/dashboard — ${RUNS.toLocaleString("en-US")} runs, ${POINTS.toLocaleString("en-US")}-point series, embedded PGlite, next start${seeded ? "" : " (reused store)"}`,
  );
  console.log("| measure | p50 ms | p95 ms | n | note |");
  console.log("|---|---:|---:|---:|---|");
  for (const r of rows) console.log(`| ${r.name} | ${ms(r.p50)} | ${ms(r.p95)} | ${r.n} | ${r.note} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
