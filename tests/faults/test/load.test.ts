/**
 * Load: 50 concurrent dashboard clients for 30 s on the runs page's query, over a store of
 * 100,000 runs, while a training run writes its metrics into the same store. Reported: errors
 * (must be 0: a check), requests/s, latency p50/p95/p99, and the run's throughput drop.
 *
 * The latency goal (p95 < 150 ms) is its own row. By default it is a FIGURE, printed "fig" and
 * counted neither as passing nor failing: timings are not asserted in `pnpm test:faults`, which CI
 * runs on 2 shared cores where the goal is out of reach (see docs/architecture.md for why and the
 * figures), and a row that said "ok" while missing its goal was a check that could not fail. With
 * SELFSUP_FAULTS_LOAD_GOAL=1 (a reference machine) the row is a real check and the case fails
 * when p95 misses the goal. SELFSUP_FAULTS_LOAD_SECONDS / _CLIENTS / _RUNS change the shape.
 */
import path from "node:path";
import { openStore } from "@selfsup/store";
import { afterAll, describe, expect, it } from "vitest";
import { seedBulk } from "../../../apps/dashboard/scripts/seed.mjs";
import { type Dashboard, gqlPost, startDashboard } from "../src/dashboard.js";
import { type CliRun, cliEnv, record, sleep, startCli, tempHome, writeConfig } from "../src/harness.js";

const SECONDS = Number(process.env.SELFSUP_FAULTS_LOAD_SECONDS ?? 30);
const CLIENTS = Number(process.env.SELFSUP_FAULTS_LOAD_CLIENTS ?? 50);
const RUNS = Number(process.env.SELFSUP_FAULTS_LOAD_RUNS ?? 100_000);
const GOAL_P95_MS = 150;
const ENFORCE_GOAL = process.env.SELFSUP_FAULTS_LOAD_GOAL === "1";

const RUNS_QUERY = `query Runs($first: Int, $after: String) {
  runs(first: $first, after: $after) {
    edges { node { id name method family dataset backbone backend host status tags createdAt durationSeconds summary } }
    pageInfo { hasNextPage endCursor }
  }
}`;

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

describe("load", () => {
  let dash: Dashboard | undefined;
  let train: CliRun | undefined;
  afterAll(async () => {
    train?.child.kill("SIGKILL");
    await dash?.stop();
  });

  it(`${CLIENTS} clients for ${SECONDS} s over ${RUNS} runs while a run writes metrics: 0 errors`, async () => {
    const home = await tempHome();
    const store = await openStore({ dataDir: path.join(home, "db") });
    const t0 = performance.now();
    try {
      await seedBulk(store, { runs: RUNS, points: 0 });
      await store.db.exec("ANALYZE");
    } finally {
      await store.close();
    }
    const seedSec = (performance.now() - t0) / 1000;
    dash = await startDashboard({ SELFSUP_HOME: home });
    const url = dash.url;
    // Warm-up: compile routes, fill caches and plans.
    for (let i = 0; i < 3; i++) await gqlPost(url, { query: RUNS_QUERY, variables: { first: 50 } });

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
    train = startCli(["train", file, "--json"], cliEnv(home));
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
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        let after: string | null = null;
        for (let i = 0; performance.now() < stopAt; i++) {
          // Mostly the first page, every fifth request the next one (as people scroll).
          const variables: { first: number; after: string | null } = {
            first: 50,
            after: i % 5 === 4 ? after : null,
          };
          try {
            const r = await gqlPost(url, { query: RUNS_QUERY, variables });
            latencies.push(r.ms);
            const data = r.body?.data as { runs?: { pageInfo: { endCursor: string | null } } } | undefined;
            if (r.status !== 200 || r.body?.errors || !data?.runs)
              errors.push(`client ${c}: ${r.status} ${r.text.slice(0, 120)}`);
            else after = data.runs.pageInfo.endCursor;
          } catch (err) {
            errors.push(`client ${c}: ${(err as Error).message}`);
          }
        }
      }),
    );
    const loadTo = performance.now();
    await sleep(200);
    const before = speed(train, quietFrom, loadFrom);
    const during = speed(train, loadFrom, loadTo);
    const steps = train.events.filter((e) => e.type === "step").length;
    train.child.kill("SIGINT");
    await train.exited;
    const rps = latencies.length / ((loadTo - loadFrom) / 1000);
    const p95 = pct(latencies, 95);
    const figures = {
      runs: RUNS,
      seed_s: seedSec.toFixed(1),
      clients: CLIENTS,
      seconds: SECONDS,
      requests: latencies.length,
      errors: errors.length,
      req_per_s: rps.toFixed(0),
      p50_ms: pct(latencies, 50).toFixed(0),
      p95_ms: p95.toFixed(0),
      p99_ms: pct(latencies, 99).toFixed(0),
      max_ms: Math.max(...latencies).toFixed(0),
      run_img_per_s_before: before.toFixed(0),
      run_img_per_s_during: during.toFixed(0),
      run_throughput_drop_pct: (100 * (1 - during / before)).toFixed(0),
      run_steps: steps,
    };
    record({
      section: "load",
      name: `${CLIENTS} clients x ${SECONDS} s, runs query, ${RUNS} runs, a run writing`,
      expected: "0 errors",
      got: `${errors.length} errors, ${latencies.length} requests, ${rps.toFixed(0)} req/s; run ${figures.run_img_per_s_before} -> ${figures.run_img_per_s_during} img/s`,
      ok: errors.length === 0 && latencies.length > 0,
      figures,
    });
    const goalMet = p95 < GOAL_P95_MS;
    record({
      section: "load",
      name: `p95 latency goal (< ${GOAL_P95_MS} ms)`,
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
  });
});
