/**
 * The runs table's view: its URL state (filters, search, sort), the GraphQL variables and queries
 * it implies, and the default columns. Shared by the client table and the server render of its
 * first page (so both ask the same question and agree on the answer).
 */
import type { Facet, Facets, RunRow } from "./api-types";

export type { Facet, Facets, RunRow };

/** Rows per request as the table scrolls. */
export const PAGE = 100;
export const STATUSES = ["QUEUED", "RUNNING", "FINISHED", "FAILED", "INTERRUPTED", "CANCELLED"];

export const RUNS_QUERY = `
query Runs($filter: RunFilter, $orderBy: RunOrder, $first: Int, $after: String, $statsKeys: [String!]!, $withStats: Boolean!) {
  runs(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    edges {
      node {
        id name method family dataset backbone backend host status tags createdAt durationSeconds summary
        metricStats(keys: $statsKeys) @include(if: $withStats) { key min max last }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const COUNT_QUERY = `query RunCount($filter: RunFilter) { runCount(filter: $filter) }`;

/** Values for the filter menus and column picker; not needed to draw the first rows. */
export const FACETS_QUERY = `
query Facets {
  facets {
    methods { value count } families { value count } datasets { value count } backbones { value count }
    statuses { value count } tags { value count } summaryKeys metricKeys
  }
}`;

export const DEFAULT_COLUMNS = ["name", "status", "method", "dataset", "backbone", "created", "duration"];

/** The summary keys present in some rows, sorted. */
export function summaryKeysOf(rows: readonly RunRow[]): string[] {
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.summary)) keys.add(k);
  return [...keys].sort();
}

/** Default columns plus the first three summary keys of the first page (sortable headline numbers). */
export function defaultColumns(summaryKeys: readonly string[]): string[] {
  return [...DEFAULT_COLUMNS, ...summaryKeys.slice(0, 3).map((k) => `summary:${k}`)];
}

export interface ViewState {
  search: string;
  method: string;
  family: string;
  dataset: string;
  backbone: string;
  tag: string;
  status: string[];
  from: string;
  to: string;
  sort: string;
  dir: "asc" | "desc";
  /** Group the table by this (a column or `config:<path>`); empty: no grouping. */
  group: string;
  /** The summary number aggregated per group. */
  gmetric: string;
}

export function readState(params: { get(name: string): string | null }): ViewState {
  return {
    search: params.get("q") ?? "",
    method: params.get("method") ?? "",
    family: params.get("family") ?? "",
    dataset: params.get("dataset") ?? "",
    backbone: params.get("backbone") ?? "",
    tag: params.get("tag") ?? "",
    status: (params.get("status") ?? "").split(",").filter((s) => STATUSES.includes(s)),
    from: params.get("from") ?? "",
    to: params.get("to") ?? "",
    sort: params.get("sort") ?? "created_at",
    dir: params.get("dir") === "asc" ? "asc" : "desc",
    group: params.get("group") ?? "",
    gmetric: params.get("gmetric") ?? "",
  };
}

export function toVariables(s: ViewState): {
  filter: Record<string, unknown>;
  orderBy: Record<string, unknown>;
} {
  const filter: Record<string, unknown> = {};
  if (s.search.trim()) filter.search = s.search.trim();
  for (const k of ["method", "family", "dataset", "backbone", "tag"] as const) if (s[k]) filter[k] = s[k];
  if (s.status.length) filter.status = s.status;
  if (s.from) filter.createdAfter = new Date(`${s.from}T00:00:00`).toISOString();
  if (s.to)
    filter.createdBefore = new Date(new Date(`${s.to}T00:00:00`).getTime() + 86_400_000).toISOString();
  const direction = s.dir.toUpperCase();
  const orderBy = s.sort.startsWith("summary:")
    ? { field: "SUMMARY", summaryKey: s.sort.slice(8), direction }
    : {
        field:
          { created_at: "CREATED_AT", name: "NAME", started_at: "STARTED_AT", finished_at: "FINISHED_AT" }[
            s.sort
          ] ?? "CREATED_AT",
        direction,
      };
  return { filter, orderBy };
}

/** Identifies a runs request by value, so equal URLs do not refetch. */
export function requestKeyOf(filter: unknown, orderBy: unknown, statsKeys: readonly string[]): string {
  return JSON.stringify({ filter, orderBy, statsKeys });
}

export interface RunsPageData {
  runs: { edges: Array<{ node: RunRow }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

export interface RunCountData {
  runCount: number;
}

/** The first page as the server rendered it. */
export interface InitialRuns {
  key: string;
  page: RunsPageData;
  runCount: number;
  filterKey: string;
}
