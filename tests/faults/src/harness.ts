/**
 * Running the built CLI as a user would (child processes with their own SELFSUP_HOME), reading its
 * JSON-lines events, and small helpers the fault cases share.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, inject } from "vitest";
import { CLI } from "./paths.js";
import { appendRow, type CaseRow } from "./report.js";

export function record(row: CaseRow): void {
  appendRow(inject("resultsFile"), row);
}

const homes: string[] = [];
// Every home a test file made goes when the file is done (KEEP_FAULT_HOMES=1 keeps them).
afterAll(async () => {
  if (process.env.KEEP_FAULT_HOMES) return;
  for (const h of homes.splice(0)) await rm(h, { recursive: true, force: true });
});

/** A fresh SELFSUP_HOME whose PGlite store is a copy of the suite's migrated template. */
export async function tempHome(prefix = "selfsup-fault-"): Promise<string> {
  const home = await mkdtemp(path.join(tmpdir(), prefix));
  homes.push(home);
  await cp(inject("pgliteTemplate"), path.join(home, "db"), { recursive: true });
  return home;
}

/** Environment for a child CLI: its own home, the wasm backend (fast steps), no inherited database. */
export function cliEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SELFSUP_HOME: home,
    SELFSUP_BACKEND: "wasm",
    // Single-threaded: no per-home thread probe (~2 s each; see core's decideWasmThreads) in these
    // timing-sensitive children; results are identical whatever the thread count.
    SELFSUP_WASM_THREADS: "1",
    FORCE_COLOR: "0",
    NODE_ENV: "production",
  };
  delete env.DATABASE_URL;
  delete env.SELFSUP_PLUGINS;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export type CliEvent = Record<string, unknown>;

export interface CliRun {
  child: ChildProcess;
  events: CliEvent[];
  stdout(): string;
  stderr(): string;
  exited: Promise<number>;
  waitFor(pred: (e: CliEvent) => boolean, timeoutMs?: number): Promise<CliEvent>;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function startCli(args: string[], env: NodeJS.ProcessEnv): CliRun {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let partial = "";
  const events: CliEvent[] = [];
  const waiters: Array<{ pred: (e: CliEvent) => boolean; resolve: (e: CliEvent) => void }> = [];
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    out += chunk;
    partial += chunk;
    for (let nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n")) {
      const line = partial.slice(0, nl).trim();
      partial = partial.slice(nl + 1);
      if (!line.startsWith("{")) continue;
      try {
        const e = JSON.parse(line) as CliEvent;
        events.push(e);
        for (const w of [...waiters]) {
          if (w.pred(e)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(e);
          }
        }
      } catch {
        // not an event line
      }
    }
  });
  child.stderr?.on("data", (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0)));
  });
  return {
    child,
    events,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pred, timeoutMs = 120_000) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for an event; stderr:\n${err}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`the CLI exited (${code}) before the awaited event; stderr:\n${err}`));
        });
      });
    },
  };
}

export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string; events: CliEvent[] }> {
  const r = startCli(args, env);
  const code = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr(), events: r.events };
}

/**
 * The suite's training run: a small convnet (SimCLR, 4 channels) on the first `limit` real MNIST
 * digits: a few steps a second on the cpu backend, so kills land mid-step, mid-flush and
 * mid-checkpoint.
 */
export function mnistConfig(
  over: { limit?: number; epochs?: number; everySteps?: number; keepLast?: number } = {},
): string {
  return [
    "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
    "backbone: { name: convnet, options: { width: 4, strides: [2, 2] } }",
    `dataset: { name: mnist, limit: ${over.limit ?? 256} }`,
    `training: { epochs: ${over.epochs ?? 2}, batchSize: 16 }`,
    `checkpoint: { everySteps: ${over.everySteps ?? 3}, keepLast: ${over.keepLast ?? 3} }`,
    "eval: { knn: false }",
  ].join("\n");
}

export async function writeConfig(dir: string, text: string, name = "run.yaml"): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Steps 1..n, for comparing a metric series' x values. */
export const steps = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** The private PostgreSQL cluster of the suite (.ci/start-postgres.sh with its own directory). */
export interface PgCluster {
  url: string;
  dir: string;
}

function pgBin(): string {
  const base = "/usr/lib/postgresql";
  const versions = readdirSync(base).sort((a, b) => Number(a) - Number(b));
  const v = versions.at(-1);
  if (!v) throw new Error(`no PostgreSQL under ${base}`);
  return path.join(base, v, "bin");
}

function asOwner(cmd: string): void {
  if (process.getuid?.() === 0)
    execFileSync("su", ["postgres", "-s", "/bin/sh", "-c", cmd], { stdio: "ignore" });
  else execFileSync("sh", ["-c", cmd], { stdio: "ignore" });
}

/**
 * Stops the cluster (`pg_ctl -m fast`: open connections are cut, as in a restart or failover).
 * Not `immediate`: the suite's cluster runs with synchronous_commit=off, so an immediate stop would
 * drop commits the server had already acknowledged, which no client can prevent.
 */
export function pgStop(pg: PgCluster): void {
  asOwner(`'${pgBin()}/pg_ctl' -D '${pg.dir}/data' -m fast -w stop`);
}

/** Starts it again on the same port, with the options start-postgres.sh used. */
export function pgStart(pg: PgCluster): void {
  const port = readFileSync(path.join(pg.dir, "port"), "utf8").trim();
  const opts = `-p ${port} -k ${pg.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
  asOwner(`'${pgBin()}/pg_ctl' -D '${pg.dir}/data' -l '${pg.dir}/server.log' -o '${opts}' -w start`);
}
