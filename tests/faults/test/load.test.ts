/**
 * Load: 50 concurrent dashboard clients for 30 s on the runs page's query, over a store of
 * 100,000 runs, while a training run writes its metrics into the same store; once on PGlite (the
 * dashboard hosts the embedded store) and once on PostgreSQL (the suite's cluster; skipped without
 * one). Every request is a distinct query, as the goal asks: a search no request made before (a
 * method name and a number: some find a few runs, some thousands), every fifth the next page of
 * the previous one, so the dashboard's 1 s reply cache never answers. Reported: errors (must be
 * 0: a check), requests/s, latency p50/p95/p99, the run's throughput drop, and PostgreSQL's own
 * execution time of the same searches (`EXPLAIN ANALYZE`, one at a time after the load), which
 * says how much of a request is the database's and which machine load affects less.
 *
 * The latency goal (p95 < 150 ms) is its own row. By default it is a FIGURE, printed "fig" and
 * counted neither as passing nor failing: timings are not asserted in `pnpm test:faults`, which CI
 * runs on 2 shared cores where the goal is out of reach (see docs/architecture.md for why and the
 * figures), and a row that said "ok" while missing its goal was a check that could not fail. With
 * SELFSUP_FAULTS_LOAD_GOAL=1 (a reference machine) the row is a real check and the case fails
 * when p95 misses the goal. SELFSUP_FAULTS_LOAD_SECONDS / _CLIENTS / _RUNS change the shape;
 * SELFSUP_FAULTS_LOAD_TARGETS=pglite (or postgresql) runs one store only.
 */
import os from "node:os";
import path from "node:path";
import { openStore, type RunStore } from "@selfsup/store";
import { afterAll, describe, expect, inject, it } from "vitest";
import { seedBulk } from "../../../apps/dashboard/scripts/seed.mjs";
import { type Dashboard, gqlPost, startDashboard } from "../src/dashboard.js";
import { type CliRun, cliEnv, record, sleep, startCli, tempHome, writeConfig } from "../src/harness.js";

const SECONDS = Number(process.env.SELFSUP_FAULTS_LOAD_SECONDS ?? 30);
const CLIENTS = Number(process.env.SELFSUP_FAULTS_LOAD_CLIENTS ?? 50);
const RUNS = Number(process.env.SELFSUP_FAULTS_LOAD_RUNS ?? 100_000);
const GOAL_P95_MS = 150;
const ENFORCE_GOAL = process.env.SELFSUP_FAULTS_LOAD_GOAL === "1";
const TARGETS = (process.env.SELFSUP_FAULTS_LOAD_TARGETS ?? "pglite,postgresql").split(",");
const PG_URL = inject("pgUrl");

const RUNS_QUERY = `query Runs($filter: RunFilter, $first: Int, $after: String) {
  runs(filter: $filter, first: $first, after: $after) {
    edges { node { id name method family dataset backbone backend host status tags createdAt durationSeconds summary } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** The seeded runs' methods (apps/dashboard/scripts/seed.mjs names run g `<method>-<g>`). */
const METHODS = ["simclr", "moco", "byol", "barlow-twins", "vicreg", "rotation", "jigsaw", "mae"];

/** The k-th distinct search: a method and a number; "moco-13" finds ~140 runs, "moco-13579" a few. */
const search = (k: number) => `${METHODS[k % METHODS.length]}-${k}`;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
}

/** Mean images/s of the step events seen in [from, to). */
function speed(run: CliRun, from: number, to: number): number {
  const xs = run.events
    .filter((e) => e.type === "step" && Number(e.at) >= from && Number(e.at) < to)
    .map((e) => Number(e.imagesPerSec));
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

/**
 * PostgreSQL's own execution time (ms) of the runs page's first page for `n` distinct searches,
 * one at a time: the statement listRuns sends for a search sorted by creation (packages/store
 * runs.ts), under EXPLAIN ANALYZE. No HTTP, no GraphQL, no queueing behind other clients.
 */
async function serverSideMs(store: RunStore, n: number, from: number): Promise<number[]> {
  const out: number[] = [];
  for (let k = from; k < from + n; k++) {
    const pattern = `%${search(k).replace(/[\\%_]/g, "\\$&")}%`;
    const rows = await store.db.query<{ "QUERY PLAN": Array<{ "Execution Time": number }> }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM runs
       WHERE (name ILIKE $1 OR method ILIKE $1 OR notes ILIKE $1)
       ORDER BY created_at DESC, id DESC LIMIT 51`,
      [pattern],
    );
    out.push(Number(rows[0]?.["QUERY PLAN"][0]?.["Execution Time"]));
  }
  return out;
}

/** A database of its own on the suite's cluster (dropped first if a previous run left it). */
async function freshPgDatabase(url: string, name: string): Promise<string> {
  const admin = await openStore({ url });
  try {
    await admin.db.exec(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.db.exec(`CREATE DATABASE ${name}`);
  } finally {
    await admin.close();
  }
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

function loadCase(target: "pglite" | "postgresql") {
  let dash: Dashboard | undefined;
  let train: CliRun | undefined;
  afterAll(async () => {
    train?.child.kill("SIGKILL");
    await dash?.stop();
  });

  it(`${target}: ${CLIENTS} clients for ${SECONDS} s of distinct searches over ${RUNS} runs while a run writes: 0 errors`, async () => {
    const home = await tempHome();
    const url = target === "postgresql" ? await freshPgDatabase(PG_URL, "selfsup_load") : undefined;
    const open = () => (url ? openStore({ url }) : openStore({ dataDir: path.join(home, "db") }));
    const seeding = await open();
    const t0 = performance.now();
    try {
      await seedBulk(seeding, { runs: RUNS, points: 0 });
      await seeding.db.exec("ANALYZE");
    } finally {
      await seeding.close();
    }
    const seedSec = (performance.now() - t0) / 1000;
    dash = await startDashboard({ SELFSUP_HOME: home, ...(url ? { DATABASE_URL: url } : {}) });
    const base = dash.url;
    // Warm-up: compile routes, fill caches and plans (searches the load does not repeat).
    for (let i = 0; i < 5; i++)
      await gqlPost(base, { query: RUNS_QUERY, variables: { first: 50, filter: { search: `warm-${i}` } } });

    // A run that writes metrics all along (stopped by SIGINT at the end).
    const file = await writeConfig(
      home,
      [
        "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
        "backbone: { name: convnet, options: { width: 4, strides: [2, 2] } }",
        "dataset: { name: mnist, limit: 512 }",
        "training: { epochs: 200, batchSize: 16 }",
        "checkpoint: { everySteps: 50 }",
        "eval: { knn: false }",
      ].join("\n"),
    );
    train = startCli(["train", file, "--json"], cliEnv(home, url ? { DATABASE_URL: url } : {}));
    const stamp = train;
    // Time-stamp step events as they arrive (the speed windows below use them).
    stamp.child.stdout?.on("data", () => {
      for (const e of stamp.events) if (e.at === undefined) e.at = performance.now();
    });
    await train.waitFor((e) => e.type === "step" && Number(e.step) >= 5, 180_000);
    const quietFrom = performance.now();
    await sleep(6000);
    const loadFrom = performance.now();

    const latencies: number[] = [];
    const errors: string[] = [];
    const stopAt = loadFrom + SECONDS * 1000;
    let next = 1000; // the next distinct search (shared by all clients, so none repeats)
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        let last: { search: string; after: string | null } | undefined;
        for (let i = 0; performance.now() < stopAt; i++) {
          // A new search; every fifth request the next page of the previous one (as people scroll).
          const more = i % 5 === 4 && last?.after ? last : undefined;
          const q = more ?? { search: search(next++), after: null };
          const variables = { first: 50, filter: { search: q.search }, after: q.after };
          try {
            const r = await gqlPost(base, { query: RUNS_QUERY, variables });
            latencies.push(r.ms);
            const data = r.body?.data as { runs?: { pageInfo: { endCursor: string | null } } } | undefined;
            if (r.status !== 200 || r.body?.errors || !data?.runs)
              errors.push(`client ${c}: ${r.status} ${r.text.slice(0, 120)}`);
            else last = { search: q.search, after: data.runs.pageInfo.endCursor };
          } catch (err) {
            // undici says "fetch failed"; the cause says why (a connect timeout, a reset).
            const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
            errors.push(
              `client ${c}: ${(err as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ""}`,
            );
          }
        }
      }),
    );
    const loadTo = performance.now();
    const distinct = next - 1000;
    // The database's own share, with the run still writing but no HTTP load.
    const reader = await open();
    let server: number[];
    try {
      await serverSideMs(reader, 20, 500); // warm
      server = await serverSideMs(reader, 200, 1000);
    } finally {
      await reader.close();
    }
    await sleep(200);
    const before = speed(train, quietFrom, loadFrom);
    const during = speed(train, loadFrom, loadTo);
    const steps = train.events.filter((e) => e.type === "step").length;
    train.child.kill("SIGINT");
    await train.exited;
    const rps = latencies.length / ((loadTo - loadFrom) / 1000);
    const p95 = pct(latencies, 95);
    const figures = {
      store: target,
      runs: RUNS,
      seed_s: seedSec.toFixed(1),
      clients: CLIENTS,
      seconds: SECONDS,
      requests: latencies.length,
      distinct_searches: distinct,
      errors: errors.length,
      req_per_s: rps.toFixed(0),
      p50_ms: pct(latencies, 50).toFixed(0),
      p95_ms: p95.toFixed(0),
      p99_ms: pct(latencies, 99).toFixed(0),
      max_ms: Math.max(...latencies).toFixed(0),
      db_exec_p50_ms: pct(server, 50).toFixed(2),
      db_exec_p95_ms: pct(server, 95).toFixed(2),
      db_exec_max_ms: Math.max(...server).toFixed(2),
      run_img_per_s_before: before.toFixed(0),
      run_img_per_s_during: during.toFixed(0),
      run_throughput_drop_pct: (100 * (1 - during / before)).toFixed(0),
      run_steps: steps,
      loadavg_1m: os.loadavg()[0]?.toFixed(1),
    };
    record({
      section: "load",
      name: `${target}: ${CLIENTS} clients x ${SECONDS} s, distinct searches, ${RUNS} runs, a run writing`,
      expected: "0 errors",
      got: `${errors.length} errors, ${latencies.length} requests (${distinct} distinct searches), ${rps.toFixed(0)} req/s; db exec p50 ${figures.db_exec_p50_ms} ms p95 ${figures.db_exec_p95_ms} ms; run ${figures.run_img_per_s_before} -> ${figures.run_img_per_s_during} img/s; load avg ${figures.loadavg_1m}`,
      ok: errors.length === 0 && latencies.length > 0,
      figures,
    });
    const goalMet = p95 < GOAL_P95_MS;
    record({
      section: "load",
      name: `${target}: p95 latency goal (< ${GOAL_P95_MS} ms)`,
      expected: ENFORCE_GOAL
        ? `p95 < ${GOAL_P95_MS} ms (enforced: SELFSUP_FAULTS_LOAD_GOAL=1)`
        : `figure only (SELFSUP_FAULTS_LOAD_GOAL=1 makes it a check)`,
      got: `p50 ${figures.p50_ms} ms, p95 ${figures.p95_ms} ms, p99 ${figures.p99_ms} ms: goal ${goalMet ? "met" : "NOT met"}`,
      ok: goalMet,
      kind: ENFORCE_GOAL ? "check" : "figure",
    });
    expect(errors.slice(0, 5)).toEqual([]);
    if (ENFORCE_GOAL)
      expect(p95, `p95 ${p95.toFixed(0)} ms misses the goal of ${GOAL_P95_MS} ms`).toBeLessThan(GOAL_P95_MS);
  }, 600_000); // seeding 100,000 runs, the dashboard's and the run's start-up, the load itself
}

describe.runIf(TARGETS.includes("pglite"))("load on PGlite", () => loadCase("pglite"));
describe.runIf(TARGETS.includes("postgresql") && PG_URL !== "")("load on PostgreSQL", () =>
  loadCase("postgresql"),
);
