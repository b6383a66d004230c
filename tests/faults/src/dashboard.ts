/** Starts the BUILT dashboard (`scripts/start.mjs`, as `pnpm start` does) on 127.0.0.1 and a free port, and talks GraphQL to it. */
import { type NextApp, startNextApp } from "@selfsup/runner/testing";
import { DASHBOARD_DIR } from "./paths.js";

export type Dashboard = NextApp;

/** The dashboard, up once its GraphQL endpoint answers (90 s at most). */
export function startDashboard(env: Record<string, string>): Promise<Dashboard> {
  return startNextApp({
    dir: DASHBOARD_DIR,
    script: "scripts/start.mjs",
    env: { NODE_ENV: "production", ...env },
    probe: {
      path: "/api/graphql",
      init: {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ runCount }" }),
      },
    },
    timeoutMs: 90_000,
  });
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
