import { startServerAndCreateNextHandler } from "@as-integrations/next";
import { NextRequest } from "next/server";
import { createApolloServer } from "../../../src/server/apollo";
import { SESSION_COOKIE } from "../../../src/server/auth";
import type { Context } from "../../../src/server/context";
import { errorReply, MAX_BODY_BYTES, requestBudgetMs, withinBudget } from "../../../src/server/http-status";
import { LIMITS } from "../../../src/server/limits";
import { isReadOnlyQuery, ReplyCache } from "../../../src/server/reply-cache";
import { contextForRequest } from "../../../src/server/request";

export const dynamic = "force-dynamic";

const KEY = Symbol.for("selfsup.dashboard.apollo");
const g = globalThis as typeof globalThis & {
  [KEY]?: ReturnType<typeof startServerAndCreateNextHandler<NextRequest, Context>>;
};

// One server per process, kept across `next dev` module reloads.
if (!g[KEY]) {
  g[KEY] = startServerAndCreateNextHandler<NextRequest, Context>(createApolloServer(), {
    context: (req) => contextForRequest(req),
  });
}
const handler = g[KEY];
const replies = new ReplyCache();

const budget = requestBudgetMs(LIMITS.requestBudgetMs);

export async function GET(request: NextRequest): Promise<Response> {
  return withinBudget(handler(request), budget);
}

/**
 * Checked here, before Apollo: a body over MAX_BODY_BYTES gets 413 and one that is not JSON gets
 * 400, both GraphQL-shaped (the integration would answer a bad body with an empty 500).
 */
export async function POST(request: NextRequest): Promise<Response> {
  return withinBudget(post(request), budget);
}

async function post(request: NextRequest): Promise<Response> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) return tooLarge();
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) return tooLarge();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return errorReply(
      400,
      "BAD_REQUEST",
      `the request body is not valid JSON (${(err as Error).message}); send {"query": "...", "variables": {...}}`,
    );
  }
  const execute = () =>
    handler(new NextRequest(request.url, { method: "POST", headers: request.headers, body: text }));
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
    return execute();
  }
  // Identical read-only queries from the same credentials share one execution (src: reply-cache.ts).
  const credentials = `${request.headers.get("authorization") ?? ""}\u0000${request.cookies.get(SESSION_COOKIE)?.value ?? ""}`;
  const reply = await replies.get(ReplyCache.key(credentials, text), async () => {
    const res = await execute();
    return { status: res.status, body: await res.text(), headers: [...res.headers.entries()] };
  });
  return new Response(reply.body, { status: reply.status, headers: reply.headers });
}

function tooLarge(): Response {
  return errorReply(
    413,
    "BAD_REQUEST",
    `the request body is larger than ${MAX_BODY_BYTES} bytes; GraphQL requests here are small queries with small variables`,
  );
}
