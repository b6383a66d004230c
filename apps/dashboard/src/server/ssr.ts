/**
 * Server rendering of the runs table's first page: the same GraphQL operations the table sends,
 * executed in-process (same schema, limits and auth), so the first HTML already holds the rows and
 * the browser paints them before any JavaScript runs. Anything unusual (no access, store down,
 * a local-time date filter whose meaning depends on the browser) returns null and the table
 * fetches on the client as usual.
 */
import type { ApolloServer } from "@apollo/server";
import {
  COUNT_QUERY,
  type InitialRuns,
  PAGE,
  RUNS_QUERY,
  type RunCountData,
  type RunsPageData,
  readState,
  requestKeyOf,
  toVariables,
} from "../lib/runs-view";
import { createApolloServer } from "./apollo";
import { authConfigFromEnv, authenticate, cookieFromHeader, SESSION_COOKIE } from "./auth";
import { getCatalogue } from "./catalogue";
import { type Context, createContext } from "./context";
import { runnerControlClient } from "./control";
import { getStore } from "./store";

const KEY = Symbol.for("selfsup.dashboard.ssr-apollo");
const g = globalThis as typeof globalThis & { [KEY]?: Promise<ApolloServer<Context>> };

function apollo(): Promise<ApolloServer<Context>> {
  if (!g[KEY]) {
    const server = createApolloServer();
    g[KEY] = server.start().then(() => server);
  }
  return g[KEY];
}

export async function initialRunsPage(
  params: Record<string, string | string[] | undefined>,
  headers: { get(name: string): string | null },
): Promise<InitialRuns | null> {
  try {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (typeof v === "string") search.set(k, v);
    const state = readState(search);
    if (state.from || state.to) return null; // local dates: let the browser say what they mean
    const auth = authConfigFromEnv();
    const who = authenticate(
      {
        authorization: headers.get("authorization"),
        session: cookieFromHeader(headers.get("cookie"), SESSION_COOKIE),
      },
      auth,
    );
    if (!who.ok) return null;
    const store = await getStore();
    const server = await apollo();
    const contextValue = () =>
      createContext({
        store,
        auth,
        role: who.role,
        control: () => runnerControlClient(),
        catalogue: getCatalogue,
      });
    const { filter, orderBy } = toVariables(state);
    const run = async <T>(query: string, variables: Record<string, unknown>): Promise<T | null> => {
      const res = await server.executeOperation({ query, variables }, { contextValue: contextValue() });
      if (res.body.kind !== "single" || res.body.singleResult.errors?.length) return null;
      // graphql-js builds null-prototype objects; React passes only plain ones to the client.
      return JSON.parse(JSON.stringify(res.body.singleResult.data)) as T;
    };
    const [page, count] = await Promise.all([
      run<RunsPageData>(RUNS_QUERY, {
        filter,
        orderBy,
        first: PAGE,
        after: null,
        statsKeys: [],
        withStats: false,
      }),
      run<RunCountData>(COUNT_QUERY, { filter }),
    ]);
    if (!page || !count) return null;
    return {
      key: requestKeyOf(filter, orderBy, []),
      page,
      runCount: count.runCount,
      filterKey: JSON.stringify(filter),
    };
  } catch {
    return null;
  }
}
