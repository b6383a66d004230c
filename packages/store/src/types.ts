import type { RunStatus, TerminalStatus } from "./schemas.js";

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

export interface CreateRunInput {
  /** Defaults to a new ULID; pass one to make submission idempotent (a duplicate id is a conflict). */
  id?: string;
  /** Defaults to `<method>-<dataset>-<last 6 chars of id>`. */
  name?: string;
  method: string;
  family?: string | null;
  backbone?: string | null;
  dataset?: string | null;
  backend?: string | null;
  host?: string | null;
  config?: Record<string, unknown>;
  /** `queued` (default, for the job queue) or `running` (a local `selfsup train`). */
  status?: "queued" | "running";
  tags?: string[];
  notes?: string | null;
  summary?: Record<string, number>;
  parentId?: string | null;
  resumedFrom?: string | null;
  /** Defaults to the database's now(); for imports and tests. */
  createdAt?: Date | string | number;
}

export interface FinishRunInput {
  status: TerminalStatus;
  /** Merged into the existing summary (keys given here win). */
  summary?: Record<string, number>;
  error?: string | null;
}

export interface RunFilter {
  method?: string;
  family?: string;
  dataset?: string;
  backbone?: string;
  /** Any of these statuses. */
  status?: RunStatus[];
  /** Runs carrying this tag. */
  tag?: string;
  /** Case-insensitive substring of name, method or notes (% and _ match literally). */
  search?: string;
  /** created_at >= createdFrom */
  createdFrom?: Date | string | number;
  /** created_at < createdTo */
  createdTo?: Date | string | number;
}

/** `summary:<key>` sorts by a summary number; runs without that key come last in both directions. */
export type RunOrderField = "created_at" | "name" | "started_at" | "finished_at" | `summary:${string}`;

export interface ListRunsOptions {
  filter?: RunFilter;
  /**
   * Default: created_at desc (newest first). With orderBy but no direction: asc. Ties are broken
   * by id in the same direction.
   */
  orderBy?: { field: RunOrderField; direction?: "asc" | "desc" };
  /** Page size, 0..500, default 50. */
  first?: number;
  /** endCursor of the previous page. */
  after?: string | null;
}

export interface RunPage {
  runs: Run[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export interface MetricPoint {
  key: string;
  /** Integer >= 0; (run, key, step) is unique, so writing a step again replaces its value. */
  step: number;
  /** Finite number. */
  value: number;
  /** When the step happened; defaults to now. */
  wallTime?: Date | string | number;
}

export type SeriesXAxis = "step" | "wall_time" | "relative_time";

export interface ReadSeriesOptions {
  /** Upper bound on points per key, 2..10000, default 1000. */
  maxPoints?: number;
  /**
   * x is the step, the wall time in ms since the Unix epoch, or seconds since the run's first
   * metric point (`relative_time`, the same origin for every key of the run). Default step.
   */
  xAxis?: SeriesXAxis;
  /** Bucket value: the mean of the bucket (default) or its last point. min/max are always kept. */
  y?: "mean" | "last";
  /** Only points with from <= x <= to (in the units of xAxis). */
  range?: { from?: number | null; to?: number | null };
}

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

export interface EvaluationInput {
  runId: string;
  /** knn, linear, finetune, or a plugin evaluator's name. */
  protocol: string;
  /** Labelled examples per class used; null/omitted = all labels. */
  labelsPerClass?: number | null;
  /** Default 0. */
  seed?: number;
  /** e.g. top1, top5. */
  metric: string;
  value: number;
}

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

export interface CheckpointInput {
  runId: string;
  path: string;
  step: number;
  checksum?: string | null;
  /** Default latest. */
  kind?: "latest" | "best";
}

export interface Checkpoint {
  id: number;
  runId: string;
  kind: "latest" | "best";
  path: string;
  step: number;
  checksum: string | null;
  createdAt: Date;
}

export interface ArtifactInput {
  runId: string;
  /** e.g. augment-preview, pca, reconstruction. */
  kind: string;
  name: string;
  mime: string;
  step?: number | null;
  /** Binary payload (an image). Exactly one of bytes / data. */
  bytes?: Uint8Array;
  /** JSON payload (scatter points). Exactly one of bytes / data. */
  data?: unknown;
}

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

export interface LeaderboardOptions {
  /** Only this label budget; omitted = one entry per (method, label budget). null = all labels. */
  labelsPerClass?: number | null;
  /** For losses/errors. Default false (higher is better). */
  lowerIsBetter?: boolean;
  /** Also count runs that did not finish. Default false. */
  includeUnfinished?: boolean;
}

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
