/**
 * The control API's HTTP server (`selfsup serve`): tRPC over HTTP at /trpc (queries, mutations,
 * and subscriptions as server-sent events), and GET /health. Binds to 127.0.0.1 unless told
 * otherwise; any other address requires a token, and with a token every call must carry it
 * (`Authorization: Bearer <token>`, or the subscription's connection params).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "@selfsup/core";
import type { RunStore } from "@selfsup/store";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import type { RunQueue } from "../queue.js";
import { MAX_BATCH_SIZE } from "./limits.js";
import { appRouter } from "./router.js";

export const TRPC_PATH = "/trpc";
export const DEFAULT_PORT = 7373;

export class ServeConfigError extends Error {
  override name = "ServeConfigError";
}

export function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface ControlServerOptions {
  store: RunStore;
  registry: Registry;
  queue?: RunQueue;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 7373; 0 picks a free port. */
  port?: number;
  /** Required off loopback; when set, every call must carry it. */
  token?: string;
}

export interface ControlServer {
  /** Base URL of the tRPC endpoint, for createControlClient({ url }). */
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

/**
 * Constant-time token check: both sides are hashed to 32 bytes first, so neither the content nor
 * the length of the given token changes how long the comparison takes.
 */
export function sameToken(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function tokenOf(
  req: http.IncomingMessage,
  connectionParams: Record<string, string | undefined> | null | undefined,
): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === "string" && /^Bearer\s+/i.test(header))
    return header.replace(/^Bearer\s+/i, "").trim();
  const fromParams = connectionParams?.token;
  return typeof fromParams === "string" ? fromParams : undefined;
}

/** Validates the bind/token combination; throws ServeConfigError explaining what to do. */
export function checkBind(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < 16) {
    throw new ServeConfigError(
      "SELFSUP_TOKEN is too short: use at least 16 characters (e.g. `openssl rand -hex 24`)",
    );
  }
  if (!isLoopback(host) && !token) {
    throw new ServeConfigError(
      `refusing to serve on ${host} without a token: anyone who can reach it could start and cancel runs. Set SELFSUP_TOKEN (e.g. SELFSUP_TOKEN=$(openssl rand -hex 24)) or bind to 127.0.0.1`,
    );
  }
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const host = opts.host ?? "127.0.0.1";
  const token = opts.token === "" ? undefined : opts.token;
  checkBind(host, token);
  const handler = createHTTPHandler({
    router: appRouter,
    basePath: `${TRPC_PATH}/`,
    maxBatchSize: MAX_BATCH_SIZE,
    createContext: ({ req, info }) => ({
      store: opts.store,
      registry: opts.registry,
      queue: opts.queue,
      authorized: token === undefined || sameToken(tokenOf(req, info.connectionParams) ?? "", token),
    }),
  });
  const server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    if (url === "/health" || url.startsWith("/health?")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true, queue: opts.queue !== undefined }));
      return;
    }
    if (url.startsWith(`${TRPC_PATH}/`)) {
      handler(req, res);
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: `not found; the tRPC endpoint is ${TRPC_PATH}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shownHost}:${addr.port}${TRPC_PATH}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
