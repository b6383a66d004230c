#!/usr/bin/env node
/**
 * CPU milliseconds the dashboard's server process spends per runs-page GraphQL request
 * (`node apps/dashboard/bench/http-cpu.mjs`, after `pnpm --filter @selfsup/dashboard build`).
 *
 * Seeds (once, kept in --dir) a PGlite store of --runs runs, starts the BUILT dashboard (`next
 * start`) on it, warms it up, then runs --clients closed-loop clients for --seconds of distinct
 * searches (the fault suite's load shape: every request a search no request made before, every
 * fifth the next page of the previous one, so the 1 s reply cache never answers) and reports the
 * server's CPU time (user + system, from /proc, summed over the server's process tree) divided by
 * the requests it answered. Wall-clock figures on a shared machine measure the machine; CPU per
 * request measures the code. --rounds N repeats the measurement on the same server and reports
 * each round (the first is often higher: JIT warm-up).
 *
 *   node apps/dashboard/bench/http-cpu.mjs [--dir /tmp/selfsup-http-cpu] [--runs 100000]
 *        [--clients 50] [--seconds 15] [--rounds 2] [--cpu-prof DIR] [--query runs|runs-config]
 *        [--server start|next] [--path /api/graphql] [--db-pid PID]
 *
 * DATABASE_URL (optional) measures against PostgreSQL instead (seeded once into that database);
 * --db-pid PID (its postmaster) adds the database server's CPU per request.
 * --cpu-prof DIR starts the server with `node --cpu-prof --cpu-prof-dir DIR` (written on exit).
 * --server start (default) runs scripts/start.mjs, as `pnpm start` does (POST /api/graphql answered
 * before Next's router); --server next runs plain `next start` (every request through Next).
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { arg, freePort, pct } from "./util.mjs";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(appDir, "package.json"));

const DIR = arg("dir", path.join(os.tmpdir(), "selfsup-http-cpu"));
const RUNS = arg("runs", 100_000);
const CLIENTS = arg("clients", 50);
const SECONDS = arg("seconds", 15);
const ROUNDS = arg("rounds", 2);
const CPU_PROF = arg("cpu-prof", "");
const QUERY = arg("query", "runs");
const PATH = arg("path", "/api/graphql");
const SERVER = arg("server", "start");
/** Another process tree whose CPU is reported per request too (a PostgreSQL postmaster's pid). */
const DB_PID = arg("db-pid", 0);
const PG_URL = process.env.DATABASE_URL || "";
const log = (...a) => console.error("[http-cpu]", ...a);

const FIELDS =
  "id name method family dataset backbone backend host status tags createdAt durationSeconds summary";
const RUNS_QUERY = `query Runs($filter: RunFilter, $first: Int, $after: String) {
  runs(filter: $filter, first: $first, after: $after) {
    edges { node { ${QUERY === "runs-config" ? `${FIELDS} config` : FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const METHODS = ["simclr", "moco", "byol", "barlow-twins", "vicreg", "rotation", "jigsaw", "mae"];
const search = (k) => `${METHODS[k % METHODS.length]}-${k}`;

const TICK_MS = 1000 / 100; // USER_HZ is 100 on Linux

/** CPU ms (user + system) of `pid` and its descendants, from /proc. */
function treeCpuMs(pid) {
  const children = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(rest[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(d));
    } catch {
      // gone
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop();
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(rest[11]) + Number(rest[12])) * TICK_MS; // utime, stime
    } catch {
      // gone
    }
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}

async function post(url, body, at = "/api/graphql") {
  const t = performance.now();
  const r = await fetch(`${url}${at}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, text, ms: performance.now() - t };
}

async function seed() {
  const { openStore } = await import("@selfsup/store");
  const store = PG_URL
    ? await openStore({ url: PG_URL })
    : await openStore({ dataDir: path.join(DIR, "db") });
  try {
    const n = await store.countRuns();
    if (n >= RUNS) {
      log(`store has ${n} runs already`);
      return;
    }
    const { seedBulk } = await import("../scripts/seed.mjs");
    const t = performance.now();
    await seedBulk(store, { runs: RUNS, points: 0 });
    await store.db.exec("ANALYZE");
    log(`seeded ${RUNS} runs in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  } finally {
    await store.close();
  }
}

async function startServer() {
  const port = await freePort();
  const nextBin = require.resolve("next/dist/bin/next");
  let out = "";
  const child = spawn(
    process.execPath,
    [
      ...(CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", CPU_PROF] : []),
      ...(SERVER === "next"
        ? [nextBin, "start", "-H", "127.0.0.1", "-p", String(port)]
        : [path.join(appDir, "scripts", "start.mjs")]),
    ],
    {
      cwd: appDir,
      env: {
        ...process.env,
        NODE_ENV: "production",
        NEXT_TELEMETRY_DISABLED: "1",
        NEXT_MANUAL_SIG_HANDLE: "1",
        HOST: "127.0.0.1",
        PORT: String(port),
        SELFSUP_HOME: DIR,
        DATABASE_URL: PG_URL,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    out += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the dashboard exited:\n${out}`);
    try {
      const r = await post(url, { query: "{ runCount }" });
      if (r.status < 500) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`no answer in 120 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  return { url, child, output: () => out };
}

let next = 1000;
async function round(url, seconds) {
  const latencies = [];
  let errors = 0;
  const stopAt = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      let last;
      for (let i = 0; performance.now() < stopAt; i++) {
        const more = i % 5 === 4 && last?.after ? last : undefined;
        const q = more ?? { search: search(next++), after: null };
        try {
          const r = await post(
            url,
            { query: RUNS_QUERY, variables: { first: 50, filter: { search: q.search }, after: q.after } },
            PATH,
          );
          latencies.push(r.ms);
          const body = JSON.parse(r.text);
          if (r.status !== 200 || body.errors) errors++;
          else last = { search: q.search, after: body.data.runs.pageInfo.endCursor };
        } catch {
          errors++;
        }
      }
    }),
  );
  return { latencies, errors };
}

await seed();
const server = await startServer();
try {
  for (let i = 0; i < 20; i++)
    await post(server.url, { query: RUNS_QUERY, variables: { first: 50, filter: { search: `warm-${i}` } } });
  await round(server.url, 3); // JIT warm-up
  const results = [];
  for (let r = 0; r < ROUNDS; r++) {
    const cpu0 = treeCpuMs(server.child.pid);
    const db0 = DB_PID ? treeCpuMs(DB_PID) : 0;
    const t0 = performance.now();
    const { latencies, errors } = await round(server.url, SECONDS);
    const wall = (performance.now() - t0) / 1000;
    const cpu = treeCpuMs(server.child.pid) - cpu0;
    const db = DB_PID ? treeCpuMs(DB_PID) - db0 : undefined;
    const row = {
      round: r + 1,
      store: PG_URL ? "postgresql" : "pglite",
      query: QUERY,
      clients: CLIENTS,
      requests: latencies.length,
      errors,
      cpu_ms_per_req: (cpu / latencies.length).toFixed(2),
      ...(db !== undefined ? { db_cpu_ms_per_req: (db / latencies.length).toFixed(2) } : {}),
      server_cpu_util: (cpu / 1000 / wall).toFixed(2),
      req_per_s: (latencies.length / wall).toFixed(0),
      p50_ms: pct(latencies, 50).toFixed(0),
      p95_ms: pct(latencies, 95).toFixed(0),
      loadavg_1m: os.loadavg()[0].toFixed(1),
    };
    results.push(row);
    log(JSON.stringify(row));
  }
  console.log(JSON.stringify(results));
} finally {
  const gone = new Promise((r) => server.child.once("exit", r));
  server.child.kill("SIGTERM");
  await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
  if (server.child.exitCode === null) server.child.kill("SIGKILL");
}
