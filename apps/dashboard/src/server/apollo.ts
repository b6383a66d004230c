/**
 * The Apollo Server: schema-first SDL (generated/graphql.ts holds it), typed resolvers, the depth
 * rule and the cost plugin, and error formatting that keeps messages clear for people and hides
 * internals: store validation errors become BAD_USER_INPUT / NOT_FOUND / CONFLICT with the store's
 * message (it names the field), anything unexpected becomes "internal error" (logged here).
 */
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import type { GraphQLFormattedError } from "graphql";
import type { Context } from "./context";
import { typeDefs } from "./generated/graphql";
import { statusRulePlugin } from "./http-status";
import { breadthLimitRule, costLimitPlugin, depthLimitRule, LIMITS } from "./limits";
import { resolvers } from "./resolvers";
import { noteStoreError } from "./store";

/** Lets the store module notice that the process serving our embedded store went away. */
const storeHealthPlugin: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async didEncounterErrors({ errors }) {
        for (const e of errors) noteStoreError(e.originalError ?? e);
      },
    };
  },
};

const STORE_CODES: Record<string, string> = {
  invalid_input: "BAD_USER_INPUT",
  not_found: "NOT_FOUND",
  conflict: "CONFLICT",
};

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof Error && original.name === "StoreError") {
    const { code, field } = original as Error & { code?: string; field?: string };
    return {
      ...formatted,
      message: original.message,
      extensions: { code: STORE_CODES[code ?? ""] ?? "BAD_USER_INPUT", ...(field ? { field } : {}) },
    };
  }
  if (original instanceof Error && original.name === "StoreUnavailableError") {
    return { ...formatted, message: original.message, extensions: { code: "STORE_UNAVAILABLE" } };
  }
  // Apollo labels every validation error GRAPHQL_VALIDATION_FAILED; keep the limit rules' own codes.
  if (formatted.extensions?.limit === "depth") {
    return { ...formatted, extensions: { ...formatted.extensions, code: "QUERY_TOO_DEEP" } };
  }
  if (formatted.extensions?.limit === "breadth") {
    return { ...formatted, extensions: { ...formatted.extensions, code: "QUERY_TOO_BROAD" } };
  }
  const code = formatted.extensions?.code;
  if (code === "INTERNAL_SERVER_ERROR" || code === undefined) {
    console.error("[dashboard] GraphQL internal error:", original);
    return {
      message: "internal error (details are in the dashboard's log)",
      ...(formatted.path ? { path: formatted.path } : {}),
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      extensions: { code: "INTERNAL_SERVER_ERROR" },
    };
  }
  return formatted;
}

export function createApolloServer(): ApolloServer<Context> {
  return new ApolloServer<Context>({
    typeDefs,
    resolvers,
    validationRules: [
      depthLimitRule(LIMITS.maxDepth, LIMITS.maxIntrospectionDepth),
      breadthLimitRule(LIMITS.maxAliases, LIMITS.maxRootFields),
    ],
    // No landing page: Apollo's loads its Sandbox from a CDN, and this dashboard makes no
    // third-party requests (introspection stays on for local tools).
    plugins: [
      costLimitPlugin(LIMITS.maxCost),
      storeHealthPlugin,
      statusRulePlugin,
      ApolloServerPluginLandingPageDisabled(),
    ],
    introspection: true,
    includeStacktraceInErrorResponses: false,
    formatError,
  });
}
