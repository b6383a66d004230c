/**
 * Running the built CLI as a user would, for the runner's tests and the fault suite: a child
 * process with its own SELFSUP_HOME (a copy of a migrated PGlite template), its JSON-lines events
 * read as they come, and run configs written to disk. No test framework here: callers pass what
 * their set-up provided (the template directory) and their own time limits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { cp, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The runner's built CLI, `dist/cli.js` (this module sits two levels down in `src/` or `dist/`). */
export const cliPath = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "dist",
  "cli.js",
);

/** A fresh SELFSUP_HOME whose embedded database is a copy of `template` (a migrated PGlite dir). */
export async function homeFromTemplate(template: string, prefix: string): Promise<string> {
  const home = await mkdtemp(path.join(tmpdir(), prefix));
  await cp(template, path.join(home, "db"), { recursive: true });
  return home;
}

/**
 * Environment for a child CLI: its own home and backend, no inherited database or plugin list;
 * `extra` adds variables (undefined removes one).
 */
export function childEnv(
  home: string,
  backend: string,
  extra: Record<string, string | undefined> = {},
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SELFSUP_HOME: home,
    SELFSUP_BACKEND: backend,
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

export type CliEvent = Record<string, unknown>;

export interface CliRun {
  child: ChildProcess;
  /** JSON-lines events seen so far on stdout. */
  events: CliEvent[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128 + signal number). */
  exited: Promise<number>;
  /** Resolves with the first event matching `pred` (rejects if the process exits first or time runs out). */
  waitFor(pred: (e: CliEvent) => boolean, timeoutMs?: number): Promise<CliEvent>;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Starts the CLI; `waitForMs` is `waitFor`'s default time limit. */
export function startCli(args: string[], env: NodeJS.ProcessEnv, waitForMs = 90_000): CliRun {
  const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
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
    waitFor(pred, timeoutMs = waitForMs) {
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
): Promise<{ code: number; stdout: string; stderr: string; events: CliEvent[] }> {
  const r = startCli(args, env);
  const code = await r.exited;
  return { code, stdout: r.stdout(), stderr: r.stderr(), events: r.events };
}

export async function writeConfig(dir: string, text: string, name = "run.yaml"): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
