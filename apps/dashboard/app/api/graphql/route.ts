/**
 * The GraphQL endpoint as a Next route handler: GET, and POST when the dashboard runs under plain
 * `next start` / `next dev`. `scripts/start.mjs` answers POST itself, before Next's router, through
 * the handler this module leaves on globalThis (src/server/graphql-http.ts says why and what both
 * check).
 */
import type { NextRequest } from "next/server";
import {
  declaredTooLarge,
  handleGraphQL,
  NODE_HANDLER_KEY,
  serveGraphQLNode,
} from "../../../src/server/graphql-http";
import type { Reply } from "../../../src/server/reply-cache";

export const dynamic = "force-dynamic";

(globalThis as Record<symbol, unknown>)[NODE_HANDLER_KEY] = serveGraphQLNode;

const toResponse = (r: Reply) => new Response(r.body, { status: r.status, headers: r.headers });

export async function GET(request: NextRequest): Promise<Response> {
  return toResponse(
    await handleGraphQL({
      method: "GET",
      search: request.nextUrl.search,
      headers: request.headers,
      body: undefined,
    }),
  );
}

export async function POST(request: NextRequest): Promise<Response> {
  const early = declaredTooLarge(request.headers.get("content-length"));
  if (early) return toResponse(early);
  return toResponse(
    await handleGraphQL({
      method: "POST",
      search: request.nextUrl.search,
      headers: request.headers,
      body: await request.text(),
    }),
  );
}
