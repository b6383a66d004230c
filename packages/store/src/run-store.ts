import {
  BatchReadsRepo,
  type FacetsResult,
  type LeaderboardScopeRow,
  type MetricStatsRow,
} from "./batch-reads.js";
import { openDb } from "./db.js";
import type { Db, OpenDbOptions } from "./db-types.js";
import { MetricReadsRepo } from "./metric-reads.js";
import type { MetricWriter, MetricWriterOptions } from "./metric-writer.js";
import { MetricWritesRepo } from "./metric-writes.js";
import { type MigrateResult, migrate } from "./migrate.js";
import { analyzeIfStale, isEmbedded } from "./planner-stats.js";
import { ResultsRepo } from "./results.js";
import { RunsRepo } from "./runs.js";
import type { RunStatus } from "./schemas.js";
import type {
  Artifact,
  ArtifactInput,
  Checkpoint,
  CheckpointInput,
  CreateRunInput,
  Evaluation,
  EvaluationInput,
  FinishRunInput,
  GroupRunsOptions,
  LeaderboardEntry,
  LeaderboardOptions,
  ListRunsOptions,
  MetricPoint,
  RawPoint,
  ReadPointsOptions,
  ReadSeriesOptions,
  Run,
  RunFilter,
  RunGroup,
  RunListing,
  RunPage,
  Series,
} from "./types.js";

export interface OpenStoreOptions extends OpenDbOptions {
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
}

/**
 * Opens the run store: picks the database (see resolveTarget: url, dataDir, DATABASE_URL, then
 * `${SELFSUP_HOME ?? '.selfsup'}/db`), applies pending migrations, and returns the repository.
 * Close it with `store.close()`.
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<RunStore> {
  const db = await openDb(options);
  let migration: MigrateResult | undefined;
  try {
    if (options.migrate !== false) migration = await migrate(db, { schema: options.schema });
    // PGlite has no autovacuum: keep the planner's statistics of runs from going stale.
    if (options.migrate !== false && isEmbedded(db)) await analyzeIfStale(db).catch(() => false); // only an optimisation
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  return new RunStore(db, migration);
}

/**
 * The store's one entry point over one Db. Every read and write of runs (runs.ts), metric series
 * (metric-writes.ts, metric-reads.ts) and results (results.ts: evaluations, checkpoints, artifacts) goes through here,
 * with inputs validated (StoreError with `code` and `field`) before any SQL runs. Methods are safe
 * to call concurrently; each write is one statement or one transaction. The methods delegate to
 * the three repositories, whose doc comments say what each does.
 */
export class RunStore {
  /** The underlying database, for callers that need a custom query. */
  readonly db: Db;
  /** What openStore's migration did (undefined when opened with migrate: false). */
  readonly migration: MigrateResult | undefined;
  private readonly runs: RunsRepo;
  private readonly metricWrites: MetricWritesRepo;
  private readonly metricReads: MetricReadsRepo;
  private readonly results: ResultsRepo;
  private readonly batch: BatchReadsRepo;

  constructor(db: Db, migration?: MigrateResult) {
    this.db = db;
    this.migration = migration;
    this.runs = new RunsRepo(db);
    this.metricWrites = new MetricWritesRepo(db);
    this.metricReads = new MetricReadsRepo(db);
    this.results = new ResultsRepo(db);
    this.batch = new BatchReadsRepo(db);
  }

  // ---------------------------------------------------------------- runs (runs.ts)

  /** Creates a run (status queued, or running for a local run). A duplicate id is a conflict. */
  createRun(input: CreateRunInput): Promise<Run> {
    return this.runs.createRun(input);
  }
  /** The run, or null when there is none with this id. */
  getRun(id: string): Promise<Run | null> {
    return this.runs.getRun(id);
  }
  /** A worker took the run: status running, heartbeat now (refused for a cancelled run). */
  markStarted(id: string, info: { host?: string | null; backend?: string | null } = {}): Promise<Run> {
    return this.runs.markStarted(id, info);
  }
  /** Records that a running run is alive; returns its status ('cancelled': stop training). */
  heartbeat(id: string): Promise<RunStatus> {
    return this.runs.heartbeat(id);
  }
  /** Ends a run: terminal status, finished_at, summary merged in, error (or null). */
  finishRun(id: string, input: FinishRunInput): Promise<Run> {
    return this.runs.finishRun(id, input);
  }
  /** Cancels a queued or running run; a run already ended is returned unchanged. */
  cancelRun(id: string): Promise<Run> {
    return this.runs.cancelRun(id);
  }
  /** Deletes a run and everything it owns (metrics, evaluations, checkpoints rows, artifacts). */
  deleteRun(id: string): Promise<boolean> {
    return this.runs.deleteRun(id);
  }
  /** Merges numbers into the run's summary (keys given win); returns the whole summary. */
  updateSummary(id: string, patch: Record<string, number>): Promise<Record<string, number>> {
    return this.runs.updateSummary(id, patch);
  }
  /** Replaces the run's tags (duplicates dropped, order kept); returns them. */
  setTags(id: string, tags: string[]): Promise<string[]> {
    return this.runs.setTags(id, tags);
  }
  /** Adds one tag unless present; returns the run's tags. */
  addTag(id: string, tag: string): Promise<string[]> {
    return this.runs.addTag(id, tag);
  }
  /** Removes one tag if present; returns the run's tags. */
  removeTag(id: string, tag: string): Promise<string[]> {
    return this.runs.removeTag(id, tag);
  }
  /** Sets (or with null clears) the run's free-text notes. */
  setNote(id: string, notes: string | null): Promise<void> {
    return this.runs.setNote(id, notes);
  }
  /** One page of runs, filtered and sorted, keyset-paginated (`after` = previous endCursor). */
  listRuns(options: ListRunsOptions = {}): Promise<RunPage> {
    return this.runs.listRuns(options);
  }
  /** listRuns without each run's config (not read at all): for lists that do not show it. */
  listRunListings(options: ListRunsOptions = {}): Promise<RunPage<RunListing>> {
    return this.runs.listRunListings(options);
  }
  /** How many runs match the filter. */
  countRuns(filter: RunFilter = {}): Promise<number> {
    return this.runs.countRuns(filter);
  }
  /** Runs grouped by a column or config value, with mean ± std of a summary number per group. */
  groupRuns(options: GroupRunsOptions): Promise<RunGroup[]> {
    return this.runs.groupRuns(options);
  }
  /** Fails running runs whose heartbeat is older than `olderThanMs`; returns their ids. */
  markStaleRuns(olderThanMs: number): Promise<string[]> {
    return this.runs.markStaleRuns(olderThanMs);
  }

  // ---------------------------------------------------------------- metrics (metric-writes.ts, metric-reads.ts)

  /** Writes metric points in one transaction; idempotent per (run, key, step). */
  appendMetrics(runId: string, points: MetricPoint[]): Promise<void> {
    return this.metricWrites.appendMetrics(runId, points);
  }
  /** A buffered writer for one run; store.close() closes writers still open. */
  metricWriter(runId: string, options: MetricWriterOptions = {}): MetricWriter {
    return this.metricWrites.metricWriter(runId, options);
  }
  /** The metric keys a run has points for, sorted. */
  metricKeys(runId: string): Promise<string[]> {
    return this.metricReads.metricKeys(runId);
  }
  /** Raw points of one key in step order, a page at a time (for exports). */
  readPoints(runId: string, key: string, options: ReadPointsOptions = {}): Promise<RawPoint[]> {
    return this.metricReads.readPoints(runId, key, options);
  }
  /** Highest step written for any key of the run, or null if none. */
  lastMetricStep(runId: string): Promise<number | null> {
    return this.metricReads.lastMetricStep(runId);
  }
  /** Resume support: drops points with step > `step`; returns how many were deleted. */
  deleteMetricsAfter(runId: string, step: number): Promise<number> {
    return this.metricWrites.deleteMetricsAfter(runId, step);
  }
  /** Rebuilds the run's series levels from its points (after a bulk import around the store). */
  rebuildSeriesLevels(runId: string): Promise<void> {
    return this.metricWrites.rebuildSeriesLevels(runId);
  }
  /** Chart data for some keys of a run, at most `maxPoints` per key (buckets keep min/max). */
  readSeries(runId: string, keys: string[], options: ReadSeriesOptions = {}): Promise<Series[]> {
    return this.metricReads.readSeries(runId, keys, options);
  }

  // ---------------------------------------------------------------- batched reads (batch-reads.ts)

  /** The runs with these ids (at most 1,000; missing ones absent), in one statement. */
  runsByIds(ids: readonly string[]): Promise<Run[]> {
    return this.batch.runsByIds(ids);
  }
  /** The evaluations of many runs in one statement. */
  evaluationsByRunIds(runIds: readonly string[]): Promise<Evaluation[]> {
    return this.batch.evaluationsByRunIds(runIds);
  }
  /** The checkpoints of many runs in one statement. */
  checkpointsByRunIds(runIds: readonly string[]): Promise<Checkpoint[]> {
    return this.batch.checkpointsByRunIds(runIds);
  }
  /** The artifacts of many runs without their bytes (`data` of JSON ones kept), in one statement. */
  artifactListingsByRunIds(runIds: readonly string[]): Promise<Artifact[]> {
    return this.batch.artifactListingsByRunIds(runIds);
  }
  /** The metric keys of many runs in one statement. */
  metricKeysByRunIds(runIds: readonly string[]): Promise<Array<{ runId: string; key: string }>> {
    return this.batch.metricKeysByRunIds(runIds);
  }
  /** min / max / count and the last point of many (run, key) series in one statement. */
  metricStats(pairs: ReadonlyArray<{ runId: string; key: string }>): Promise<MetricStatsRow[]> {
    return this.batch.metricStats(pairs);
  }
  /** Distinct methods, families, datasets, backbones, statuses, tags with counts; recent keys. */
  facets(): Promise<FacetsResult> {
    return this.batch.facets();
  }
  /** The (dataset, protocol, metric) combinations that have evaluations. */
  leaderboardScopes(): Promise<LeaderboardScopeRow[]> {
    return this.batch.leaderboardScopes();
  }

  // ---------------------------------------------------------------- results (results.ts)

  /** Records an evaluation result; the same (run, protocol, labels, seed, metric) replaces the value. */
  addEvaluation(input: EvaluationInput): Promise<Evaluation> {
    return this.results.addEvaluation(input);
  }
  /** A run's evaluations, by protocol, labels, metric, seed. */
  getEvaluations(runId: string): Promise<Evaluation[]> {
    return this.results.getEvaluations(runId);
  }
  /** Best run per method (and label budget) on a dataset for one protocol and metric. */
  leaderboard(
    dataset: string,
    protocol: string,
    metric: string,
    options: LeaderboardOptions = {},
  ): Promise<LeaderboardEntry[]> {
    return this.results.leaderboard(dataset, protocol, metric, options);
  }
  /** Records a checkpoint file; the same (run, kind, path) updates step/checksum. */
  addCheckpoint(input: CheckpointInput): Promise<Checkpoint> {
    return this.results.addCheckpoint(input);
  }
  /** The checkpoint with the highest step (of `kind`, or any kind), or null: what resume loads. */
  latestCheckpoint(runId: string, kind?: "latest" | "best"): Promise<Checkpoint | null> {
    return this.results.latestCheckpoint(runId, kind);
  }
  /** All checkpoints of a run, by step. */
  listCheckpoints(runId: string): Promise<Checkpoint[]> {
    return this.results.listCheckpoints(runId);
  }

  /** Forgets checkpoint rows whose directories were pruned or found corrupt (the table stays true to disk). */
  deleteCheckpoints(runId: string, paths: readonly string[]): Promise<number> {
    return this.results.deleteCheckpoints(runId, paths);
  }
  /** Stores an image (bytes) or JSON data; the same (run, kind, name) replaces the payload. */
  addArtifact(input: ArtifactInput): Promise<Artifact> {
    return this.results.addArtifact(input);
  }
  /** A run's artifacts (optionally one kind); `includeBytes: false` for a listing. */
  getArtifacts(runId: string, options: { kind?: string; includeBytes?: boolean } = {}): Promise<Artifact[]> {
    return this.results.getArtifacts(runId, options);
  }
  /** One artifact by (run, kind, name), or null. */
  getArtifact(runId: string, kind: string, name: string): Promise<Artifact | null> {
    return this.results.getArtifact(runId, kind, name);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Flushes and closes open metric writers, then closes the database. */
  async close(): Promise<void> {
    let error: unknown;
    try {
      await this.metricWrites.closeWriters();
    } catch (err) {
      error = err;
    }
    await this.db.close();
    if (error !== undefined) throw error;
  }
}
