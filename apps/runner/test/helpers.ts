/**
 * Test helpers: run the built CLI (dist/cli.js, as a user would) in a child process with its own
 * SELFSUP_HOME, read its JSON-lines events, and write tiny run configs that train in seconds on
 * the cpu backend.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cp, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inject } from "vitest";

export const runnerRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const cliPath = path.join(runnerRoot, "dist", "cli.js");

/** A fresh SELFSUP_HOME whose embedded database is a copy of the suite's migrated template. */
export async function tempHome(prefix = "selfsup-runner-"): Promise<string> {
  const home = await mkdtemp(path.join(tmpdir(), prefix));
  await cp(inject("pgliteTemplate"), path.join(home, "db"), { recursive: true });
  return home;
}

/** Environment for a child CLI: its own home, cpu backend, no inherited database. */
export function cliEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SELFSUP_HOME: home,
    SELFSUP_BACKEND: "cpu",
    FORCE_COLOR: "0",
  };
  delete env.DATABASE_URL;
  delete env.SELFSUP_PLUGINS;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface CliRun {
  child: ChildProcess;
  /** JSON-lines events seen so far on stdout. */
  events: Array<Record<string, unknown>>;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128 + signal number). */
  exited: Promise<number>;
  /** Resolves with the first event matching `pred` (rejects if the process exits first). */
  waitFor(
    pred: (e: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export function startCli(args: string[], env: NodeJS.ProcessEnv): CliRun {
  const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let partial = "";
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{
    pred: (e: Record<string, unknown>) => boolean;
    resolve: (e: Record<string, unknown>) => void;
  }> = [];
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    out += chunk;
    partial += chunk;
    let nl = partial.indexOf("\n");
    while (nl >= 0) {
      const line = partial.slice(0, nl).trim();
      partial = partial.slice(nl + 1);
      nl = partial.indexOf("\n");
      if (!line.startsWith("{")) continue;
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
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
    waitFor(pred, timeoutMs = 90_000) {
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

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string; events: Array<Record<string, unknown>> }> {
  const r = startCli(args, env);
  const code = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr(), events: r.events };
}

/**
 * A run config that trains in seconds on the cpu backend: SimCLR with a 4-channel convnet on
 * 8x8 synthetic shapes.
 */
export function tinyConfig(
  over: { epochs?: number; trainSize?: number; everySteps?: number; batchSize?: number; extra?: string } = {},
): string {
  return [
    "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
    "backbone: { name: convnet, options: { width: 4, strides: [2] } }",
    `dataset: { name: synthetic, options: { size: 8, trainSize: ${over.trainSize ?? 128}, testSize: 32 } }`,
    `training: { epochs: ${over.epochs ?? 1}, batchSize: ${over.batchSize ?? 16} }`,
    `checkpoint: { everySteps: ${over.everySteps ?? 0} }`,
    over.extra ?? "",
  ].join("\n");
}

export async function writeConfig(dir: string, text: string, name = "run.yaml"): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
