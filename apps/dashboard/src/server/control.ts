/**
 * The runner's control API (tRPC, `selfsup serve`), used by the cancelRun and submitRun
 * mutations. The URL comes from SELFSUP_CONTROL_URL; the token sent is SELFSUP_CONTROL_TOKEN, or
 * else the team token SELFSUP_TOKEN. When the runner is not reachable, the mutation fails with a
 * GraphQL error coded RUNNER_UNAVAILABLE that says where the dashboard looked.
 */
import { GraphQLError } from "graphql";

export interface SubmitInput {
  config: Record<string, unknown>;
  name?: string;
  tags?: string[];
}

/** What the dashboard needs from the runner. Tests pass a fake. */
export interface ControlClient {
  submit(input: SubmitInput): Promise<{ id: string }>;
  cancel(id: string): Promise<void>;
}

export const DEFAULT_CONTROL_URL = "http://127.0.0.1:7450";

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
    if (typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EAI_AGAIN|UND_ERR_CONNECT_TIMEOUT|UND_ERR_SOCKET)$/.test(code)) {
      return true;
    }
    const msg = (e as { message?: unknown }).message;
    if (typeof msg === "string" && /fetch failed|ECONNREFUSED|network/i.test(msg)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The shape of `@selfsup/runner/client`'s client, as far as the dashboard uses it. */
interface RunnerClientModule {
  createControlClient(options: { url: string; token?: string }): {
    submit: { mutate(input: unknown): Promise<unknown> } | ((input: unknown) => Promise<unknown>);
    cancel: { mutate(input: unknown): Promise<unknown> } | ((input: unknown) => Promise<unknown>);
  };
}

function call(proc: unknown, input: unknown): Promise<unknown> {
  if (typeof proc === "function") return (proc as (i: unknown) => Promise<unknown>)(input);
  if (proc && typeof (proc as { mutate?: unknown }).mutate === "function") {
    return (proc as { mutate(i: unknown): Promise<unknown> }).mutate(input);
  }
  throw new Error("the runner client lacks this procedure");
}

/**
 * The real client, imported lazily so the dashboard starts (and reads) without the runner
 * installed or running.
 */
export async function runnerControlClient(env: Record<string, string | undefined> = process.env): Promise<ControlClient> {
  const url = controlUrl(env);
  const token = env.SELFSUP_CONTROL_TOKEN || env.SELFSUP_TOKEN || undefined;
  let mod: RunnerClientModule;
  try {
    // A variable specifier keeps bundlers from resolving it at build time.
    const specifier = "@selfsup/runner/client";
    mod = (await import(/* webpackIgnore: true */ /* turbopackIgnore: true */ specifier)) as RunnerClientModule;
  } catch (err) {
    throw runnerUnavailable(url, new Error(`@selfsup/runner/client could not be loaded: ${(err as Error).message}`));
  }
  const client = mod.createControlClient({ url, ...(token ? { token } : {}) });
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (isConnectionError(err)) throw runnerUnavailable(url, err);
      const message = err instanceof Error ? err.message : String(err);
      throw new GraphQLError(`the runner refused: ${message}`, { extensions: { code: "RUNNER_ERROR" } });
    }
  };
  return {
    submit: (input) =>
      guard(async () => {
        const res = (await call(client.submit, input)) as { id?: unknown; runId?: unknown } | string;
        const id = typeof res === "string" ? res : String(res?.id ?? res?.runId ?? "");
        if (!id) throw new Error("the runner's submit answered without a run id");
        return { id };
      }),
    cancel: (id) =>
      guard(async () => {
        await call(client.cancel, { id });
      }),
  };
}
