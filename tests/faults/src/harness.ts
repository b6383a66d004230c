/**
 * Running the built CLI as a user would (child processes with their own SELFSUP_HOME), reading its
 * JSON-lines events, and small helpers the fault cases share.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { type CliRun, childEnv, homeFromTemplate, startCli as startRunnerCli } from "@selfsup/runner/testing";
import { afterAll, inject } from "vitest";
import { appendRow, type CaseRow } from "./report.js";

export { type CliEvent, type CliRun, runCli, sleep, writeConfig } from "@selfsup/runner/testing";

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
  const home = await homeFromTemplate(inject("pgliteTemplate"), prefix);
  homes.push(home);
  return home;
}

/** Environment for a child CLI: its own home, the wasm backend (fast steps), no inherited database. */
export function cliEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  // Single-threaded wasm: no per-home thread probe (~2 s each; core's decideWasmThreads) in these
  // timing-sensitive children; results are identical whatever the thread count.
  return childEnv(home, "wasm", { NODE_ENV: "production", SELFSUP_WASM_THREADS: "1", ...extra });
}

/** Starts the CLI; `waitFor` waits up to 2 minutes by default (kills and restarts are slow under load). */
export function startCli(args: string[], env: NodeJS.ProcessEnv): CliRun {
  return startRunnerCli(args, env, 120_000);
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
