/**
 * The runner's control API (tRPC, `selfsup serve`), used by the cancelRun and submitRun
 * mutations. The URL comes from SELFSUP_CONTROL_URL; the token sent is SELFSUP_CONTROL_TOKEN, or
 * else the team token SELFSUP_TOKEN. When the runner is not reachable, the mutation fails with a
 * GraphQL error coded RUNNER_UNAVAILABLE that says where the dashboard looked.
 */
import { GraphQLError } from "graphql";

export interface SubmitInput {
  /** The run config as `selfsup train` takes it (validated by the runner). */
  config: Record<string, unknown>;
  /** Merged into the config (the runner's config has `name` and `tags`). */
  name?: string;
  tags?: string[];
  notes?: string;
}

/** What the dashboard needs from the runner. Tests pass a fake. */
export interface ControlClient {
  submit(input: SubmitInput): Promise<{ id: string }>;
  cancel(id: string): Promise<void>;
}

/** Where `selfsup serve` listens by default. */
export const DEFAULT_CONTROL_URL = "http://127.0.0.1:7373/trpc";

export function controlUrl(env: Record<string, string | undefined> = process.env): string {
  return env.SELFSUP_CONTROL_URL?.trim() || DEFAULT_CONTROL_URL;
}

export function runnerUnavailable(url: string, cause: unknown): GraphQLError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new GraphQLError(
    `the runner's control API at ${url} is not reachable (${why}); start it with \`selfsup serve\` or point SELFSUP_CONTROL_URL at it`,
    { extensions: { code: "RUNNER_UNAVAILABLE", url } },
  );
}

/** True for errors that mean "nobody answered" rather than "the runner said no". */
export function isConnectionError(err: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === "object" && !seen.has(e)) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === "string" &&
      /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EAI_AGAIN|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET)$/.test(
        code,
      )
    ) {
      return true;
    }
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === "string" && /fetch failed|ECONNREFUSED|network/i.test(msg)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

type RunnerClientModule = typeof import("@selfsup/runner/client");

/** tRPC error codes the runner answers with, as GraphQL codes. */
const TRPC_TO_GRAPHQL: Record<string, string> = {
  BAD_REQUEST: "BAD_USER_INPUT",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  UNAUTHORIZED: "RUNNER_UNAUTHORIZED",
  FORBIDDEN: "RUNNER_UNAUTHORIZED",
  PRECONDITION_FAILED: "RUNNER_PRECONDITION_FAILED",
};

/**
 * The real client (`@selfsup/runner/client`), imported on first use so the dashboard starts and
 * reads without the runner.
 */
export async function runnerControlClient(
  env: Record<string, string | undefined> = process.env,
): Promise<ControlClient> {
  const url = controlUrl(env);
  const token = env.SELFSUP_CONTROL_TOKEN || env.SELFSUP_TOKEN || undefined;
  let mod: RunnerClientModule;
  try {
    // A variable specifier: Node loads it at run time (the bundler leaves it alone).
    const specifier = "@selfsup/runner/client";
    mod = (await import(
      /* webpackIgnore: true */ /* turbopackIgnore: true */ specifier
    )) as RunnerClientModule;
  } catch (err) {
    throw runnerUnavailable(
      url,
      new Error(`@selfsup/runner/client could not be loaded: ${(err as Error).message}`),
    );
  }
  const client = mod.createControlClient({ url, ...(token ? { token } : {}) });
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (isConnectionError(err)) throw runnerUnavailable(url, err);
      const trpcCode = (err as { data?: { code?: unknown } }).data?.code;
      const code = (typeof trpcCode === "string" && TRPC_TO_GRAPHQL[trpcCode]) || "RUNNER_ERROR";
      const message = err instanceof Error ? err.message : String(err);
      const hint =
        code === "RUNNER_UNAUTHORIZED"
          ? " (the dashboard sends SELFSUP_CONTROL_TOKEN, else SELFSUP_TOKEN)"
          : "";
      throw new GraphQLError(`the runner at ${url} refused: ${message}${hint}`, { extensions: { code } });
    }
  };
  return {
    submit: (input) =>
      guard(async () => {
        const config = {
          ...input.config,
          ...(input.name !== undefined ? { name: input.name } : {}),
          ...(input.tags !== undefined ? { tags: input.tags } : {}),
        };
        const run = await client.submit.mutate({
          config: config as Parameters<typeof client.submit.mutate>[0]["config"],
          ...(input.notes !== undefined ? { notes: input.notes } : {}),
        });
        return { id: run.id };
      }),
    cancel: (id) =>
      guard(async () => {
        await client.cancel.mutate({ id });
      }),
  };
}
