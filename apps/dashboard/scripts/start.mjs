#!/usr/bin/env node
/**
 * Starts the built dashboard (Next in this process, as a custom server) with the selfsup conventions:
 *
 *   HOST (default 127.0.0.1) and PORT (default 3000) pick the address. Off loopback, reading needs
 *   a login, so SELFSUP_TOKEN or SELFSUP_READ_TOKEN must be set (it refuses to start otherwise).
 *   DATABASE_URL points at a shared PostgreSQL; else the embedded store is SELFSUP_HOME/db, with
 *   SELFSUP_HOME defaulting to .selfsup in the directory pnpm was called from (where `pnpm selfsup`
 *   writes it too), not this package's.
 *
 *   --demo   seeds demo runs first when the store has no runs yet.
 */
import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// NEXT_MANUAL_SIG_HANDLE: on SIGINT/SIGTERM the store closes PGlite cleanly before exiting
// (src/server/store.ts) instead of Next exiting under it.
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NEXT_MANUAL_SIG_HANDLE: "1" };
env.HOST = env.HOST || "127.0.0.1";
env.PORT = env.PORT || "3000";
if (!env.DATABASE_URL && !env.SELFSUP_HOME) {
  env.SELFSUP_HOME = path.resolve(env.INIT_CWD || process.cwd(), ".selfsup");
}
process.env.SELFSUP_HOME = env.SELFSUP_HOME;

const loopback =
  ["127.0.0.1", "localhost", "::1", "[::1]"].includes(env.HOST.toLowerCase()) ||
  /^127(\.\d+){3}$/.test(env.HOST);
if (!loopback && !env.SELFSUP_TOKEN && !env.SELFSUP_READ_TOKEN) {
  console.error(
    `selfsup dashboard: HOST=${env.HOST} is not loopback, so reading needs a login, but neither SELFSUP_TOKEN ` +
      "(team: read and change runs) nor SELFSUP_READ_TOKEN (read-only) is set. Set one, or bind to 127.0.0.1.",
  );
  process.exit(2);
}
if (!existsSync(path.join(appDir, ".next", "BUILD_ID"))) {
  console.error(
    "selfsup dashboard: no build found; run `pnpm --filter @selfsup/dashboard build` (or `pnpm build`) first.",
  );
  process.exit(2);
}

const { openStore, resolveTarget, redact } = await import("@selfsup/store");
const target = resolveTarget({}, env);
const where =
  target.kind === "pg"
    ? `PostgreSQL ${redact(target.url)}`
    : target.kind === "pglite"
      ? `PGlite ${target.dataDir}`
      : "memory";

if (process.argv.includes("--demo")) {
  const store = await openStore({});
  try {
    if ((await store.countRuns()) === 0) {
      const { seedDemo } = await import("./seed.mjs");
      const runs = await seedDemo(store, { count: 24, withMetrics: 8, points: 1500 });
      console.log(`selfsup dashboard: seeded ${runs.length} demo runs into ${where}`);
    }
  } finally {
    await store.close();
  }
}

const host = env.HOST.replace(/^\[(.*)\]$/, "$1");
const shown = host.includes(":") ? `[${host}]` : host;
console.log(
  `selfsup dashboard: http://${shown}:${env.PORT}  (store: ${where}${loopback ? "; reading open on loopback" : "; login required"})`,
);

// Next runs in this process (a custom server), so POST /api/graphql can be answered before Next's
// router: its route handling alone cost ~3 ms of CPU per request, as much as the GraphQL work
// (src/server/graphql-http.ts). The route module leaves that handler on globalThis when it loads;
// until then (and for everything else) requests go through Next.
Object.assign(process.env, env, { NODE_ENV: "production" });
const { default: next } = await import("next");
const app = next({ dev: false, dir: appDir, hostname: host, port: Number(env.PORT) });
await app.prepare();
const nextHandler = app.getRequestHandler();
const FAST = Symbol.for("selfsup.dashboard.graphql.node");
const isGraphQLPost = (req) =>
  req.method === "POST" && (req.url === "/api/graphql" || req.url?.startsWith("/api/graphql?"));
const server = http.createServer((req, res) => {
  const fast = globalThis[FAST];
  if (fast && isGraphQLPost(req)) return void fast(req, res);
  nextHandler(req, res).catch((err) => {
    console.error(`selfsup dashboard: ${req.method} ${req.url} failed:`, err);
    if (!res.headersSent) res.statusCode = 500;
    res.end();
  });
});
server.on("error", (err) => {
  console.error(`selfsup dashboard: cannot listen on ${shown}:${env.PORT}: ${err.message}`);
  process.exit(1);
});
await new Promise((resolve) => server.listen(Number(env.PORT), host, resolve));
// Load the GraphQL route module (a malformed body: answered 400 before the store is opened, so
// which process hosts an embedded store still depends only on who uses it first).
await fetch(`http://${shown}:${env.PORT}/api/graphql`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: "{",
}).catch(() => {});
if (!globalThis[FAST])
  console.error("selfsup dashboard: the GraphQL fast path did not register; Next serves it");
console.log(`selfsup dashboard: ready`);
