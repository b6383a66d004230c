"use client";
/**
 * The runs table's data: keyset pages of runs for one request (filter, order, metric-stats keys),
 * starting from the server-rendered first page when it matches, the next page fetched on demand.
 * A newer request supersedes older responses (generation counter), so fast typing never shows
 * stale rows.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import {
  type InitialRuns,
  PAGE,
  RUNS_QUERY,
  type RunRow,
  type RunsPageData,
  requestKeyOf,
  type toVariables,
} from "../lib/runs-view";
import { gql } from "./gql";

export interface RunPages {
  rows: RunRow[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  loading: boolean;
  error: string | undefined;
  /** Fetches the next page unless one is in flight or there is none. */
  loadMore: () => void;
}

export function useRunPages(
  { filter, orderBy }: ReturnType<typeof toVariables>,
  statsKeys: string[],
  initial: InitialRuns | null | undefined,
): RunPages {
  const requestKey = requestKeyOf(filter, orderBy, statsKeys);
  // The server rendered the first page for this very request: start from it.
  const fromServer = initial && initial.key === requestKey ? initial.page.runs : undefined;
  const [rows, setRows] = useState<RunRow[]>(() => fromServer?.edges.map((e) => e.node) ?? []);
  const [pageInfo, setPageInfo] = useState<{ hasNextPage: boolean; endCursor: string | null }>(
    () => fromServer?.pageInfo ?? { hasNextPage: false, endCursor: null },
  );
  const [loading, setLoading] = useState(!fromServer);
  const skipFirstFetch = useRef(fromServer !== undefined);
  const [error, setError] = useState<string>();
  const generation = useRef(0);
  const inFlight = useRef(false);
  type RunsData = RunsPageData;
  // biome-ignore lint/correctness/useExhaustiveDependencies: requestKey holds filter, orderBy and statsKeys by value, so an equal URL does not refetch
  const fetchPage = useCallback(
    (after: string | null) =>
      gql<RunsData>(RUNS_QUERY, {
        filter,
        orderBy,
        first: PAGE,
        after,
        statsKeys,
        withStats: statsKeys.length > 0,
      }),
    [requestKey],
  );

  useEffect(() => {
    const gen = ++generation.current;
    if (skipFirstFetch.current) {
      skipFirstFetch.current = false;
      return;
    }
    inFlight.current = true;
    setLoading(true);
    fetchPage(null)
      .then((d) => {
        if (gen !== generation.current) return;
        setRows(d.runs.edges.map((e) => e.node));
        setPageInfo(d.runs.pageInfo);
        setError(undefined);
      })
      .catch((e: Error) => gen === generation.current && setError(e.message))
      .finally(() => {
        if (gen === generation.current) {
          inFlight.current = false;
          setLoading(false);
        }
      });
  }, [fetchPage]);

  const loadMore = useCallback(() => {
    if (inFlight.current || !pageInfo.hasNextPage || !pageInfo.endCursor) return;
    const gen = generation.current;
    inFlight.current = true;
    setLoading(true);
    fetchPage(pageInfo.endCursor)
      .then((d) => {
        if (gen !== generation.current) return;
        setRows((rs) => [...rs, ...d.runs.edges.map((e) => e.node)]);
        setPageInfo(d.runs.pageInfo);
      })
      .catch((e: Error) => gen === generation.current && setError(e.message))
      .finally(() => {
        if (gen === generation.current) {
          inFlight.current = false;
          setLoading(false);
        }
      });
  }, [fetchPage, pageInfo]);

  return { rows, pageInfo, loading, error, loadMore };
}
