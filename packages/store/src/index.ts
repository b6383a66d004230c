/**
 * @selfsup/store: the run history of selfsup (runs, metric series, evaluations, checkpoints,
 * artifacts) in one SQL schema that runs unchanged on embedded PGlite (default, a directory under
 * `.selfsup/`) and on a shared PostgreSQL (DATABASE_URL), so a laptop and a team see the same
 * model. Start with `openStore()`; everything else hangs off the returned RunStore.
 */
export {
  type FacetRow,
  type FacetsResult,
  type LeaderboardScopeRow,
  MAX_BATCH_IDS,
  type MetricStatsRow,
} from "./batch-reads.js";
export {
  type Db,
  type DbTarget,
  type DriverName,
  type OpenDbOptions,
  openDb,
  type Row,
  redact,
  resolveTarget,
  type SharingInfo,
  type SqlValue,
} from "./db.js";
export { isTransientStoreError } from "./directory.js";
export { StoreError, type StoreErrorCode, StoreUnavailableError, type UnavailableReason } from "./errors.js";
export { newId } from "./id.js";
export { lockPathFor, readStoreLock, type StoreLockInfo } from "./lock.js";
export { MetricWriter, type MetricWriterOptions } from "./metric-writer.js";
export { MIGRATION_LOCK_KEY, type MigrateResult, migrate } from "./migrate.js";
export { type Migration, migrations } from "./migrations/index.js";
export { type OpenStoreOptions, openStore, RunStore } from "./run-store.js";
export {
  CONTROL_CHARS_RE,
  DEFAULT_MAX_POINTS,
  DEFAULT_PAGE_SIZE,
  MAX_ARTIFACT_BYTES,
  MAX_PAGE_SIZE,
  MAX_POINTS,
  NO_CONTROL_CHARS,
  RUN_STATUSES,
  type RunStatus,
  TERMINAL_STATUSES,
  type TerminalStatus,
} from "./schemas.js";
export { createScratchDatabase, type ScratchDatabase } from "./scratch-database.js";
export {
  type CreateSweepInput,
  MAX_SWEEP_PAGE,
  type RungDecision,
  SWEEP_STATUSES,
  type Sweep,
  type SweepEpochValue,
  type SweepGoal,
  type SweepMode,
  type SweepRunLink,
  type SweepRunState,
  type SweepStatus,
  SweepStore,
  type SweepTrial,
  TRIAL_STATUSES,
  type TrialPatch,
  type TrialStatus,
} from "./sweeps.js";
export type {
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
  RunOrderField,
  RunPage,
  Series,
  SeriesPoint,
  SeriesXAxis,
} from "./types.js";
