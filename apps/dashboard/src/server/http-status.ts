/**
 * One rule for the HTTP status of a GraphQL reply, so clients and monitoring can tell "you sent
 * something wrong" from "we failed" without reading the body:
 *
 * | errors in the reply                                               | status |
 * |-------------------------------------------------------------------|--------|
 * | none                                                              | 200    |
 * | any refusal of the client's request: BAD_REQUEST (body not JSON), | 400    |
 * |   GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_USER_INPUT,|        |
 * |   QUERY_TOO_DEEP, QUERY_TOO_BROAD, QUERY_TOO_COSTLY,              |        |
 * |   PERSISTED_QUERY_NOT_SUPPORTED                                   |        |
 * | UNAUTHENTICATED / FORBIDDEN                                       | 401 / 403 |
 * | a body over the size limit                                        | 413    |
 * | STORE_UNAVAILABLE (the database is down), REQUEST_TIMEOUT (over   | 503    |
 * |   the request's time budget)                                      |        |
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
  "QUERY_TOO_BROAD",
  "QUERY_TOO_COSTLY",
  "PERSISTED_QUERY_NOT_SUPPORTED",
  "OPERATION_RESOLUTION_FAILURE",
]);

const FIXED: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  STORE_UNAVAILABLE: 503,
  REQUEST_TIMEOUT: 503,
};

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

/** A GraphQL-shaped error body. */
export function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code } }] });
}

/** A GraphQL-shaped error reply for requests refused before Apollo sees them. */
export function errorReply(status: number, code: string, message: string): Response {
  return new Response(errorBody(code, message), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** The time budget of one GraphQL request (ms): SELFSUP_REQUEST_BUDGET_MS, else the default. */
export function requestBudgetMs(
  fallback: number,
  env: Record<string, string | undefined> = process.env,
): number {
  const v = Number(env.SELFSUP_REQUEST_BUDGET_MS);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/** The reply past the time budget. */
export function budgetExceededMessage(budgetMs: number): string {
  return `the request took longer than its time budget of ${budgetMs} ms; ask for fewer runs, keys or points`;
}

/**
 * Answers `work` or, past `budgetMs`, `late()` (a 503 REQUEST_TIMEOUT reply). The work itself is
 * not stopped (a store query cannot be cancelled midway), but the client is answered and the
 * limits above keep any one request's work small.
 */
export async function withinBudget<T>(work: Promise<T>, budgetMs: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(late()), budgetMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
