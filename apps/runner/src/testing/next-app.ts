/**
 * Starting a BUILT Next.js app (`next start`, or the app's own start script) on 127.0.0.1 and a
 * free port, for end-to-end tests: the dashboard's own and the fault suite's. The caller names the
 * app's directory (the runner does not depend on the dashboard) and `next` is resolved from there.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import path from "node:path";

/** A free TCP port on 127.0.0.1 (the OS picks; closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface NextApp {
  url: string;
  child: ChildProcess;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, SIGKILL after 10 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

/** Throws, naming `hint` (how to build), unless `dir` holds a `next build` output. */
export function assertNextBuilt(dir: string, hint: string): void {
  if (!existsSync(path.join(dir, ".next", "BUILD_ID")))
    throw new Error(`${path.basename(dir)} is not built: ${hint}`);
}

export interface StartNextAppOptions {
  /** The app's directory (its package.json resolves `next`). */
  dir: string;
  /** Added to the inherited environment, after selfsup's defaults (DATABASE_URL empty). */
  env?: Record<string, string>;
  /** What the app must answer below 500 to count as up (default: GET /login). */
  probe?: { path: string; init?: RequestInit };
  /** How long it may take to answer (default 60 s). */
  timeoutMs?: number;
  /** How to build it, for the error when it is not built. */
  buildHint?: string;
  /**
   * A start script (relative to `dir`) run with node instead of `next start`, as users start the
   * app; it reads HOST and PORT. The dashboard's `scripts/start.mjs` answers GraphQL POSTs before
   * Next's router.
   */
  script?: string;
}

/** Starts the app and waits until it answers the probe; throws with its output if it exits or times out. */
export async function startNextApp(opts: StartNextAppOptions): Promise<NextApp> {
  assertNextBuilt(opts.dir, opts.buildHint ?? "run `pnpm build` first");
  const port = await freePort();
  const args = opts.script
    ? [path.join(opts.dir, opts.script)]
    : [
        createRequire(path.join(opts.dir, "package.json")).resolve("next/dist/bin/next"),
        "start",
        "-H",
        "127.0.0.1",
        "-p",
        String(port),
      ];
  let out = "";
  const child = spawn(process.execPath, args, {
    cwd: opts.dir,
    env: {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: "1",
      NEXT_MANUAL_SIG_HANDLE: "1",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: "",
      ...opts.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const probe = opts.probe ?? { path: "/login", init: { redirect: "manual" } };
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app exited with ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`${url}${probe.path}`, probe.init);
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`the app did not answer within ${timeoutMs / 1000} s:\n${out}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => {
        clearTimeout(t);
        resolve();
      });
      child.kill("SIGTERM");
    });
  return { url, child, output: () => out, stop };
}
