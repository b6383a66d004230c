/**
 * What resolvers hand to each other for the GraphQL types that are not store rows (codegen's
 * `mappers` point here). Lazy parts stay functions so a query pays only for what it selects.
 */
import type { Run, RunFilter, RunListing, SweepRunState, SweepTrial } from "@selfsup/store";
import type { Role } from "./enums";

/**
 * A run as resolvers hand it on: a store row, with or without its config (the runs list reads
 * none; Run.config loads it, batched, only when a query selects it).
 */
export type RunModel = RunListing & { config?: Run["config"] };

export interface RunConnectionModel {
  edges: Array<{ cursor: string; node: RunModel }>;
  pageInfo: {
    hasNextPage: boolean;
    hasPreviousPage: boolean;
    startCursor: string | null;
    endCursor: string | null;
  };
  /** The filter, so totalCount runs a count only when selected. */
  filter: RunFilter;
}

export interface ComparisonModel {
  runs: Run[];
  keys: string[];
  maxPoints: number;
  xAxis: "step" | "wall_time" | "relative_time";
}

export interface LeaderboardEntryModel {
  rank: number;
  method: string;
  family: string | null;
  labelsPerClass: number | null;
  value: number;
  std: number | null;
  seeds: number;
  backbone: string | null;
  runId: string;
}

export interface SubmitRunResultModel {
  id: string;
}

export interface ViewerModel {
  role: Role;
  canMutate: boolean;
  loginRequired: boolean;
}

export interface SweepTrialModel extends SweepTrial {
  runs: SweepRunState[];
  /** Run config of the first seed's run (read on demand). */
  configOf: () => Promise<unknown>;
}
