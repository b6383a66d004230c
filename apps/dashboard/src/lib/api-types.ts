/**
 * What the dashboard's queries get back, built from the GraphQL codegen types
 * (src/server/generated/graphql.ts, made from schema.graphql by `pnpm codegen`), so a field renamed
 * or retyped in the schema breaks the client's typecheck instead of drifting silently. Each type
 * picks the fields its query selects. Two scalars need a word: DateTime arrives as an ISO string
 * over JSON, and JSON is typed here by what the schema documents (summaries are numbers).
 */
import type * as G from "../server/generated/graphql";

/** A scalar as JSON delivers it: a DateTime (`Date | string` on the server) is a string here. */
type Wire<T> = Date extends T ? Exclude<T, Date> : T;

/** The fields K of a GraphQL object type, as the client receives them. */
export type Selected<T, K extends keyof T> = { [P in K]: Wire<T[P]> };

/** Run.summary: the run's headline numbers. */
export type Summary = Record<string, number>;
/** Run.config: the validated run config. */
export type RunConfig = Record<string, unknown>;

export type SeriesPoint = Selected<G.SeriesPoint, "x" | "y" | "min" | "max" | "count">;
export type Series = Selected<G.Series, "key" | "total" | "downsampled"> & { points: SeriesPoint[] };

export type ScatterPoint = Selected<G.ScatterPoint, "x" | "y" | "label">;
export type Facet = Selected<G.Facet, "value" | "count">;
export type Facets = {
  [K in Exclude<keyof G.Facets, "__typename">]-?: G.Facets[K] extends G.Facet[] ? Facet[] : string[];
};
export type MetricStats = Selected<G.MetricStats, "key" | "min" | "max" | "last">;

/** A row of the runs table (the Runs query). */
export type RunRow = Selected<
  G.Run,
  | "id"
  | "name"
  | "method"
  | "family"
  | "dataset"
  | "backbone"
  | "backend"
  | "host"
  | "status"
  | "tags"
  | "createdAt"
  | "durationSeconds"
> & { summary: Summary; metricStats?: MetricStats[] };

/** One run with everything the run page shows (the Run query). */
export type RunDetail = Selected<
  G.Run,
  | "id"
  | "name"
  | "method"
  | "family"
  | "dataset"
  | "backbone"
  | "backend"
  | "host"
  | "status"
  | "error"
  | "tags"
  | "notes"
  | "createdAt"
  | "startedAt"
  | "finishedAt"
  | "heartbeatAt"
  | "durationSeconds"
  | "parentId"
  | "resumedFrom"
  | "metricKeys"
> & {
  summary: Summary;
  config: RunConfig;
  evaluations: Selected<G.Evaluation, "id" | "protocol" | "labelsPerClass" | "seed" | "metric" | "value">[];
  checkpoints: Selected<G.Checkpoint, "id" | "kind" | "path" | "step" | "checksum" | "createdAt">[];
  artifacts: Array<
    Selected<G.Artifact, "id" | "kind" | "name" | "mime" | "step" | "size" | "url"> & {
      points: ScatterPoint[] | null;
    }
  >;
  skippedFiles: { total: number; files: Array<{ file: string; reason: string }> } | null;
};

/** A run in the comparison view. */
export type CompareRun = Selected<
  G.Run,
  "id" | "name" | "method" | "dataset" | "backbone" | "status" | "metricKeys"
> & { summary: Summary; config: RunConfig };

/** The Compare query. */
export interface CompareData {
  compare: Selected<G.Comparison, "keys"> & {
    runs: CompareRun[];
    series: Array<
      Selected<G.RunSeries, "runId"> & {
        series: Selected<G.Series, "key" | "total" | "downsampled"> & {
          points: Selected<G.SeriesPoint, "x" | "y" | "min" | "max">[];
        };
      }
    >;
    configDiff: Array<Selected<G.ConfigDiffEntry, "path"> & { values: unknown[] }>;
  };
}

/** A leaderboard row (the Board query). */
export type LeaderboardEntry = Selected<
  G.LeaderboardEntry,
  "rank" | "method" | "family" | "labelsPerClass" | "value" | "std" | "seeds" | "backbone"
> & { run: Selected<G.Run, "id" | "name" | "createdAt"> };

export type LeaderboardScope = Selected<
  G.LeaderboardScope,
  "dataset" | "protocol" | "metric" | "labelsPerClass" | "runs"
>;

/** A group of the runs table (the RunGroups query). */
export type RunGroup = Selected<G.RunGroup, "value" | "runs" | "n" | "mean" | "std" | "min" | "max">;
