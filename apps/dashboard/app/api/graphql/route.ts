import { startServerAndCreateNextHandler } from "@as-integrations/next";
import type { NextRequest } from "next/server";
import { createApolloServer } from "../../../src/server/apollo";
import type { Context } from "../../../src/server/context";
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

export async function GET(request: NextRequest): Promise<Response> {
  return handler(request);
}

export async function POST(request: NextRequest): Promise<Response> {
  return handler(request);
}
