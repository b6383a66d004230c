/**
 * Shared test plumbing: an in-memory store seeded once per file, and `exec`, which runs an
 * operation through the real Apollo server (schema, validation rules, cost plugin, resolvers,
 * error formatting) with a chosen role and a fake runner.
 */
import type { ApolloServer } from "@apollo/server";
import type { RunStore } from "@selfsup/store";
import type { GraphQLFormattedError } from "graphql";
import { createApolloServer } from "../src/server/apollo";
import type { AuthConfig } from "../src/server/auth";
import type { Catalogue } from "../src/server/catalogue";
import { type Context, createContext } from "../src/server/context";
import type { ControlClient } from "../src/server/control";
import type { Role } from "../src/server/enums";

export interface ExecOptions {
  role?: Role;
  auth?: Partial<AuthConfig>;
  control?: () => Promise<ControlClient>;
  catalogue?: () => Promise<Catalogue>;
}

export interface ExecResult<T> {
  data: T | null | undefined;
  errors: readonly GraphQLFormattedError[] | undefined;
}

let server: ApolloServer<Context> | undefined;

export async function apollo(): Promise<ApolloServer<Context>> {
  if (!server) {
    server = createApolloServer();
    await server.start();
  }
  return server;
}

export async function stopApollo(): Promise<void> {
  await server?.stop();
  server = undefined;
}

export function makeExec(store: RunStore) {
  return async function exec<T = Record<string, unknown>>(
    query: string,
    variables: Record<string, unknown> = {},
    options: ExecOptions = {},
  ): Promise<ExecResult<T>> {
    const s = await apollo();
    const auth: AuthConfig = {
      loginRequired: false,
      teamToken: "team-secret",
      readToken: "read-secret",
      ...options.auth,
    };
    const contextValue = createContext({
      store,
      auth,
      role: options.role ?? "anonymous",
      control:
        options.control ??
        (async () => {
          throw new Error("no runner in this test");
        }),
      catalogue: options.catalogue ?? (async () => ({ methods: [], plugins: [], failures: [] })),
    });
    const res = await s.executeOperation({ query, variables }, { contextValue });
    if (res.body.kind !== "single") throw new Error("expected a single result");
    return { data: res.body.singleResult.data as T | null | undefined, errors: res.body.singleResult.errors };
  };
}

export function codes(r: ExecResult<unknown>): string[] {
  return (r.errors ?? []).map((e) => String(e.extensions?.code));
}

/** Counts the SQL statements a store runs (for the N+1 tests). */
export function countQueries(store: RunStore): { count: () => number; restore: () => void } {
  const db = store.db as { query: (...args: unknown[]) => Promise<unknown> };
  const original = db.query;
  let n = 0;
  db.query = function (this: unknown, ...args: unknown[]) {
    n++;
    return original.apply(this, args);
  };
  return {
    count: () => n,
    restore: () => {
      db.query = original;
    },
  };
}
