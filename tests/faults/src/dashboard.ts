/** Starts the BUILT dashboard (`scripts/start.mjs`, as `pnpm start` does) on 127.0.0.1 and a free port, and talks GraphQL to it. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { DASHBOARD_DIR } from "./paths.js";

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

export interface Dashboard {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export async function startDashboard(env: Record<string, string>): Promise<Dashboard> {
  if (!existsSync(path.join(DASHBOARD_DIR, ".next", "BUILD_ID")))
    throw new Error("the dashboard is not built: run `pnpm build` first");
  const port = await freePort();
  let out = "";
  const child = spawn(process.execPath, [path.join(DASHBOARD_DIR, "scripts", "start.mjs")], {
    cwd: DASHBOARD_DIR,
    env: {
      ...process.env,
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      NEXT_MANUAL_SIG_HANDLE: "1",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: "",
      ...env,
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
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the dashboard exited (${child.exitCode}):\n${out}`);
    try {
      const r = await fetch(`${url}/api/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ runCount }" }),
      });
      if (r.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the dashboard did not answer in 90 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    url,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

export interface GqlReply {
  status: number;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> } | null;
  text: string;
  ms: number;
}

/** POSTs a body (an object is JSON-encoded; a string is sent as is). */
export async function gqlPost(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<GqlReply> {
  const t = performance.now();
  const r = await fetch(`${url}/api/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: GqlReply["body"] = null;
  try {
    parsed = JSON.parse(text) as GqlReply["body"];
  } catch {
    parsed = null;
  }
  return { status: r.status, body: parsed, text, ms: performance.now() - t };
}
