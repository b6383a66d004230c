/**
 * Turns an incoming request into the GraphQL context: checks the caller's credentials (the proxy
 * already did for pages; this repeats it so the API never depends on a matcher) and opens the
 * process's store.
 */
import { GraphQLError } from "graphql";
import { authConfigFromEnv, authenticate, cookieFromHeader, SESSION_COOKIE } from "./auth";
import { getCatalogue } from "./catalogue";
import { type Context, createContext } from "./context";
import { runnerControlClient } from "./control";
import { getStore } from "./store";

export async function contextForRequest(req: {
  headers: { get(name: string): string | null };
}): Promise<Context> {
  const auth = authConfigFromEnv();
  const result = authenticate(
    {
      authorization: req.headers.get("authorization"),
      session: cookieFromHeader(req.headers.get("cookie"), SESSION_COOKIE),
    },
    auth,
  );
  if (!result.ok) {
    throw new GraphQLError(result.message, {
      extensions: { code: "UNAUTHENTICATED", http: { status: 401 } },
    });
  }
  let store: Awaited<ReturnType<typeof getStore>>;
  try {
    store = await getStore();
  } catch (err) {
    throw new GraphQLError((err as Error).message, {
      extensions: { code: "STORE_UNAVAILABLE", http: { status: 503 } },
    });
  }
  return createContext({
    store,
    auth,
    role: result.role,
    control: () => runnerControlClient(),
    catalogue: getCatalogue,
  });
}
