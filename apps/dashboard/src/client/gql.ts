"use client";
/**
 * A small GraphQL client: POST to /api/graphql, errors surfaced with their codes, a hook with
 * optional polling. No cache layer: the pages ask for what they show, and the server bounds it.
 */
import { useCallback, useEffect, useRef, useState } from "react";

export class GqlError extends Error {
  constructor(
    message: string,
    readonly codes: string[],
  ) {
    super(message);
    this.name = "GqlError";
  }
}

interface GqlResponse<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

export async function gql<T>(
  query: string,
  variables?: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<T> {
  const res = await fetch("/api/graphql", {
    method: "POST",
    headers: { "content-type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ query, variables }),
    signal,
  });
  if (res.status === 401 && typeof window !== "undefined") {
    const next = window.location.pathname + window.location.search;
    window.location.assign(`/login?next=${encodeURIComponent(next)}`);
  }
  let body: GqlResponse<T>;
  try {
    body = (await res.json()) as GqlResponse<T>;
  } catch {
    throw new GqlError(`the server answered ${res.status} ${res.statusText} without JSON`, ["HTTP_ERROR"]);
  }
  if (body.errors?.length) {
    throw new GqlError(
      body.errors.map((e) => e.message).join("; "),
      body.errors.map((e) => e.extensions?.code ?? "ERROR"),
    );
  }
  if (!body.data) throw new GqlError("the server answered without data", ["HTTP_ERROR"]);
  return body.data;
}

export interface QueryState<T> {
  data: T | undefined;
  error: GqlError | Error | undefined;
  loading: boolean;
  refetch: () => void;
}

/**
 * Runs `query` when its variables change (compared as JSON) and, with `pollMs`, again every
 * `pollMs` while the page is visible. Keeps the previous data while a new answer is on its way.
 */
export function useGql<T>(
  query: string,
  variables: Record<string, unknown> | undefined,
  options: { pollMs?: number; skip?: boolean; initial?: T } = {},
): QueryState<T> {
  const [data, setData] = useState<T | undefined>(options.initial);
  const [error, setError] = useState<Error>();
  const [loading, setLoading] = useState(!options.skip && options.initial === undefined);
  // Data the server already rendered answers the first request.
  const skipFirst = useRef(options.initial !== undefined);
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(variables ?? {});
  const varsRef = useRef(variables);
  varsRef.current = variables;

  // biome-ignore lint/correctness/useExhaustiveDependencies: key (the variables as JSON) and tick (refetch/poll) are the triggers; the variables are read from a ref
  useEffect(() => {
    if (options.skip) return;
    if (skipFirst.current) {
      skipFirst.current = false;
      return;
    }
    const ctrl = new AbortController();
    setLoading(true);
    gql<T>(query, varsRef.current, ctrl.signal)
      .then((d) => {
        setData(d);
        setError(undefined);
      })
      .catch((e: Error) => {
        if (e.name !== "AbortError") setError(e);
      })
      .finally(() => {
        if (!ctrl.signal.aborted) setLoading(false);
      });
    return () => ctrl.abort();
  }, [query, key, tick, options.skip]);

  useEffect(() => {
    if (!options.pollMs || options.skip) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === "visible") setTick((t) => t + 1);
    }, options.pollMs);
    return () => window.clearInterval(id);
  }, [options.pollMs, options.skip]);

  const refetch = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, refetch };
}
