/**
 * One rule for the HTTP status of a GraphQL reply, so clients and monitoring can tell "you sent
 * something wrong" from "we failed" without reading the body:
 *
 * | errors in the reply                                               | status |
 * |-------------------------------------------------------------------|--------|
 * | none                                                              | 200    |
 * | any refusal of the client's request: BAD_REQUEST (body not JSON), | 400    |
 * |   GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT,|        |
 * |   QUERY_TOO_DEEP, QUERY_TOO_COSTLY, PERSISTED_QUERY_NOT_SUPPORTED |        |
 * | UNAUTHENTICATED / FORBIDDEN                                       | 401 / 403 |
 * | a body over the size limit                                        | 413    |
 * | STORE_UNAVAILABLE (the database is down)                          | 503    |
 * | anything else (NOT_FOUND, CONFLICT, INTERNAL_SERVER_ERROR)        | 200, or 500 when no data |
 *
 * Every reply, including 4xx/5xx ones, is GraphQL-shaped: `{ errors: [{ message, extensions: {
 * code } }] }`.
 */
import type { ApolloServerPlugin } from "@apollo/server";
import type { GraphQLFormattedError } from "graphql";

/** Largest GraphQL request body accepted (bytes). */
export const MAX_BODY_BYTES = 64 * 1024;

export const CLIENT_ERROR_CODES = new Set([
  "BAD_REQUEST",
  "GRAPHQL_PARSE_FAILED",
  "GRAPHQL_VALIDATION_FAILED",
  "BAD_USER_INPUT",
  "QUERY_TOO_DEEP",
  "QUERY_TOO_COSTLY",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
]);

const FIXED: Record<string, number> = { UNAUTHENTICATED: 401, FORBIDDEN: 403, STORE_UNAVAILABLE: 503 };

/** The status for a reply with these errors (undefined: leave Apollo's). */
export function statusForErrors(
  errors: readonly GraphQLFormattedError[],
  hasData: boolean,
): number | undefined {
  if (errors.length === 0) return undefined;
  const codes = errors.map((e) => String(e.extensions?.code ?? ""));
  for (const c of codes) if (FIXED[c] !== undefined) return FIXED[c];
  if (codes.some((c) => CLIENT_ERROR_CODES.has(c))) return 400;
  return hasData ? 200 : 500;
}

/** Applies `statusForErrors` to every single (non-incremental) reply. */
export const statusRulePlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        if (response.body.kind !== "single") return;
        const { errors, data } = response.body.singleResult;
        const status = statusForErrors(errors ?? [], data !== undefined && data !== null);
        if (status !== undefined) response.http.status = status;
      },
    };
  },
};

/** A GraphQL-shaped error reply for requests refused before Apollo sees them. */
export function errorReply(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}
