/**
 * The GraphQL endpoint's HTTP handling, once for both ways a request arrives:
 *
 * - through Next (`app/api/graphql/route.ts`, a route handler): GET, and POST when the dashboard
 *   runs under plain `next start` or `next dev`;
 * - the fast path (`serveGraphQLNode`): POST /api/graphql taken straight off Node's HTTP server by
 *   scripts/start.mjs, before Next's router. Next's route handling alone cost ~3 ms of CPU per
 *   request (a route that answers a fixed 13 KB string: 2.7-3.4 ms; the same reply from Node's
 *   server: 0.14 ms), about as much as the whole request may cost for 50 clients to see p95 <
 *   150 ms (issue 26 item 12, docs/architecture.md).
 *
 * Both do the same, in this order: credentials (401, as the proxy answers other API routes; before
 * the reply cache, so a cached reply is only ever handed to credentials that pass), body size
 * (413), JSON (400), the reply cache for
 * read-only queries, and Apollo (`executeHTTPGraphQLRequest` with the already parsed body; its
 * plugins apply the depth, breadth and cost limits and the status rule), all within the request's
 * time budget (503 REQUEST_TIMEOUT past it).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { constants, gzip } from "node:zlib";
import { HeaderMap } from "@apollo/server";
import { SECURITY_HEADERS } from "../../security-headers.mjs";
import { createApolloServer } from "./apollo";
import { authConfigFromEnv, authenticate, cookieFromHeader, SESSION_COOKIE } from "./auth";
import {
  budgetExceededMessage,
  errorBody,
  MAX_BODY_BYTES,
  requestBudgetMs,
  withinBudget,
} from "./http-status";
import { LIMITS } from "./limits";
import { isReadOnlyQuery, type Reply, ReplyCache } from "./reply-cache";
import { contextForRequest } from "./request";

/** What the handler needs of a request, whichever server it came through. */
export interface GraphQLHttpRequest {
  method: string;
  /** The query string, with its leading "?" (or ""). */
  search: string;
  headers: { get(name: string): string | null; forEach(fn: (value: string, key: string) => void): void };
  /** The body as read (POST); undefined for GET. */
  body: string | undefined;
}

const KEY = Symbol.for("selfsup.dashboard.graphql");
interface Shared {
  apollo: ReturnType<typeof createApolloServer>;
  replies: ReplyCache;
}
const g = globalThis as typeof globalThis & { [KEY]?: Shared };

// One Apollo server and reply cache per process, kept across `next dev` module reloads.
function shared(): Shared {
  let s = g[KEY];
  if (!s) {
    const apollo = createApolloServer();
    apollo.startInBackgroundHandlingStartupErrorsByLoggingAndFailingAllRequests();
    s = { apollo, replies: new ReplyCache() };
    g[KEY] = s;
  }
  return s;
}

const JSON_TYPE: [string, string] = ["content-type", "application/json; charset=utf-8"];

function refusal(status: number, code: string, message: string, extra: Array<[string, string]> = []): Reply {
  return { status, body: errorBody(code, message), headers: [JSON_TYPE, ...extra] };
}

const tooLarge = () =>
  refusal(
    413,
    "BAD_REQUEST",
    `the request body is larger than ${MAX_BODY_BYTES} bytes; GraphQL requests here are small queries with small variables`,
  );

async function execute(req: GraphQLHttpRequest, body: unknown): Promise<Reply> {
  const headers = new HeaderMap();
  req.headers.forEach((value, key) => {
    headers.set(key, value);
  });
  const res = await shared().apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method, headers, search: req.search, body },
    context: () => contextForRequest(req),
  });
  let text: string;
  if (res.body.kind === "complete") text = res.body.string;
  else {
    // Incremental delivery is not enabled here; joined, should it ever be.
    text = "";
    for await (const chunk of res.body.asyncIterator) text += chunk;
  }
  return { status: res.status ?? 200, body: text, headers: [...res.headers] };
}

async function handle(req: GraphQLHttpRequest): Promise<Reply> {
  const auth = authenticate(
    {
      authorization: req.headers.get("authorization"),
      session: cookieFromHeader(req.headers.get("cookie"), SESSION_COOKIE),
    },
    authConfigFromEnv(),
  );
  if (!auth.ok) return unauthenticated(auth.message);
  if (req.body === undefined) return execute(req, undefined);
  const text = req.body;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) return tooLarge();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return refusal(
      400,
      "BAD_REQUEST",
      `the request body is not valid JSON (${(err as Error).message}); send {"query": "...", "variables": {...}}`,
    );
  }
  const { replies } = shared();
  const op = parsed as { query?: unknown; operationName?: unknown } | null;
  if (
    op === null ||
    typeof op !== "object" ||
    Array.isArray(op) ||
    typeof op.query !== "string" ||
    !isReadOnlyQuery(op.query, typeof op.operationName === "string" ? op.operationName : undefined)
  ) {
    // A mutation (or anything not cacheable): later reads must see its effect at once.
    replies.clear();
    return execute(req, parsed);
  }
  // Identical read-only queries from the same credentials share one execution (src: reply-cache.ts).
  const credentials = `${req.headers.get("authorization") ?? ""}\u0000${cookieFromHeader(req.headers.get("cookie"), SESSION_COOKIE) ?? ""}`;
  return replies.get(ReplyCache.key(credentials, text), () => execute(req, parsed));
}

function unauthenticated(message: string): Reply {
  return refusal(401, "UNAUTHENTICATED", message, [["www-authenticate", 'Bearer realm="selfsup"']]);
}

const budget = () => requestBudgetMs(LIMITS.requestBudgetMs);

/** One GraphQL request, answered within the time budget. */
export function handleGraphQL(req: GraphQLHttpRequest): Promise<Reply> {
  const ms = budget();
  return withinBudget(handle(req), ms, () => refusal(503, "REQUEST_TIMEOUT", budgetExceededMessage(ms)));
}

/** A declared body size over the limit is refused before the body is read. */
export function declaredTooLarge(contentLength: string | null | undefined): Reply | undefined {
  return Number(contentLength ?? "0") > MAX_BODY_BYTES ? tooLarge() : undefined;
}

// ---------------------------------------------------------------- the fast path

const gzipAsync = promisify(gzip);
/** Replies smaller than this go uncompressed (Next's compression uses the same threshold). */
const GZIP_MIN_BYTES = 1024;

function nodeHeaders(req: IncomingMessage): GraphQLHttpRequest["headers"] {
  const h = req.headers;
  const text = (v: string | string[] | undefined) =>
    v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
  return {
    get: (name) => text(h[name.toLowerCase()]),
    forEach: (fn) => {
      for (const [k, v] of Object.entries(h)) {
        const t = text(v);
        if (t !== null) fn(t, k);
      }
    },
  };
}

/** The body, or undefined when it grows past MAX_BODY_BYTES (the rest is drained, not kept). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on("end", () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function send(req: IncomingMessage, res: ServerResponse, reply: Reply): Promise<void> {
  const headers: Record<string, string> = {};
  for (const { key, value } of SECURITY_HEADERS) headers[key.toLowerCase()] = value;
  for (const [k, v] of reply.headers) headers[k.toLowerCase()] = v;
  headers["cache-control"] ??= "private, no-cache, no-store, max-age=0, must-revalidate";
  let body: string | Buffer = reply.body;
  const accepts = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  if (accepts && body.length >= GZIP_MIN_BYTES) {
    // Level 1: JSON still shrinks ~5x, at a third of the default level's CPU.
    body = await gzipAsync(body, { level: constants.Z_BEST_SPEED });
    headers["content-encoding"] = "gzip";
    headers.vary = "Accept-Encoding";
  }
  headers["content-length"] = String(Buffer.byteLength(body));
  res.writeHead(reply.status, headers);
  res.end(body);
}

/**
 * POST /api/graphql straight from Node's HTTP server (scripts/start.mjs), skipping Next's router,
 * proxy and route adapter; the same checks and the same replies as the route handler.
 */
export async function serveGraphQLNode(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const early = declaredTooLarge(req.headers["content-length"]);
    if (early) {
      res.shouldKeepAlive = false;
      req.resume();
      return await send(req, res, early);
    }
    const body = await readBody(req);
    const search = req.url?.includes("?") ? req.url.slice(req.url.indexOf("?")) : "";
    const reply =
      body === undefined
        ? tooLarge()
        : await handleGraphQL({ method: req.method ?? "POST", search, headers: nodeHeaders(req), body });
    await send(req, res, reply);
  } catch (err) {
    console.error("[dashboard] GraphQL request failed:", err);
    if (!res.headersSent)
      await send(
        req,
        res,
        refusal(500, "INTERNAL_SERVER_ERROR", "internal error (details are in the dashboard's log)"),
      );
    else res.destroy();
  }
}

/** Where the route module leaves `serveGraphQLNode` for scripts/start.mjs to find. */
export const NODE_HANDLER_KEY = Symbol.for("selfsup.dashboard.graphql.node");
