import type { z } from "zod";
import type {
  artifactSchema,
  checkpointSchema,
  createRunSchema,
  evaluationSchema,
  finishSchema,
  groupRunsSchema,
  leaderboardOptionsSchema,
  listRunsSchema,
  metricPointSchema,
  RunStatus,
  readPointsSchema,
  readSeriesSchema,
  runFilterSchema,
  TerminalStatus,
} from "./schemas.js";

/*
 * Inputs are the zod schemas' input types (schemas.ts documents each field), so the validation
 * and the type cannot drift apart; outputs are plain interfaces.
 */

export type { RunStatus, TerminalStatus };

/** A run as stored. Timestamps are the database's clock (except metric wall times). */
export interface Run {
  /** Sortable id (ULID unless the creator chose one). */
  id: string;
  name: string;
  method: string;
  /** Method family, e.g. pretext / contrastive / mim. */
  family: string | null;
  backbone: string | null;
  dataset: string | null;
  /** Tensor backend the run trained on (wasm, cpu, tensorflow, ...). */
  backend: string | null;
  host: string | null;
  /** The validated run config, as JSON. */
  config: Record<string, unknown>;
  status: RunStatus;
  error: string | null;
  tags: string[];
  notes: string | null;
  /** Headline numbers, e.g. { knn_top1: 0.93, loss: 1.2 }; sortable via `summary:<key>`. */
  summary: Record<string, number>;
  parentId: string | null;
  resumedFrom: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  heartbeatAt: Date | null;
}

export type CreateRunInput = z.input<typeof createRunSchema>;

export type FinishRunInput = z.input<typeof finishSchema>;

export type RunFilter = z.input<typeof runFilterSchema>;

/** `summary:<key>` sorts by a summary number; runs without that key come last in both directions. */
export type RunOrderField = NonNullable<ListRunsOptions["orderBy"]>["field"];

export type ListRunsOptions = z.input<typeof listRunsSchema>;

/** A run as listed without its config (listRunListings). */
export type RunListing = Omit<Run, "config">;

export interface RunPage<R extends RunListing = Run> {
  runs: R[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export type MetricPoint = z.input<typeof metricPointSchema>;

export type SeriesXAxis = NonNullable<ReadSeriesOptions["xAxis"]>;

export type ReadSeriesOptions = z.input<typeof readSeriesSchema>;

/** One chart point. Raw points have min = max = y and count 1; buckets aggregate `count` points. */
export interface SeriesPoint {
  /** Mean x of the bucket (`y: 'mean'`) or x of its last point (`y: 'last'`). */
  x: number;
  y: number;
  min: number;
  max: number;
  count: number;
}

export interface Series {
  key: string;
  points: SeriesPoint[];
  /** Points in range before downsampling. */
  total: number;
  /** True when points are buckets rather than raw points. */
  downsampled: boolean;
}

export type EvaluationInput = z.input<typeof evaluationSchema>;

export interface Evaluation {
  id: number;
  runId: string;
  protocol: string;
  labelsPerClass: number | null;
  seed: number;
  metric: string;
  value: number;
  createdAt: Date;
}

export type CheckpointInput = z.input<typeof checkpointSchema>;

export interface Checkpoint {
  id: number;
  runId: string;
  kind: "latest" | "best";
  path: string;
  step: number;
  checksum: string | null;
  createdAt: Date;
}

export type ArtifactInput = z.input<typeof artifactSchema>;

export interface Artifact {
  id: number;
  runId: string;
  kind: string;
  name: string;
  mime: string;
  step: number | null;
  /** null when the payload is JSON, or when read with includeBytes: false. */
  bytes: Uint8Array | null;
  data: unknown;
  /** Payload size in bytes (the bytes, or the JSON text as written). */
  size: number;
  createdAt: Date;
}

export type LeaderboardOptions = z.input<typeof leaderboardOptionsSchema>;

export interface LeaderboardEntry {
  method: string;
  family: string | null;
  labelsPerClass: number | null;
  /** Mean over the best run's seeds. */
  value: number;
  /** Sample standard deviation over seeds, null with one seed. */
  std: number | null;
  seeds: number;
  runId: string;
  runName: string;
  backbone: string | null;
}

export type ReadPointsOptions = z.input<typeof readPointsSchema>;

/** A stored point as written (for exports). */
export interface RawPoint {
  step: number;
  value: number;
  wallTime: Date;
}

export type GroupRunsOptions = z.input<typeof groupRunsSchema>;

/** One group of runs (same method / dataset / config value) with its summary metric's spread. */
export interface RunGroup {
  /** The group's value of `by` (null: runs without it). */
  value: string | null;
  /** Runs in the group. */
  runs: number;
  /** Runs in the group that have the metric. */
  n: number;
  mean: number | null;
  /** Sample standard deviation; null below 2 values. */
  std: number | null;
  min: number | null;
  max: number | null;
}
