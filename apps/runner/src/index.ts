/**
 * @selfsup/runner as a library: run configs, executing runs against a store, the queue and the
 * control API. The CLI (`selfsup`) is built from these; the dashboard uses `@selfsup/runner/client`.
 */
export * from "./config.js";
export {
  type CheckpointChoice,
  type EncoderSource,
  type LoadEncoderOptions,
  type LoadedEncoder,
  loadEncoder,
  sampleShape,
} from "./encoder/load-encoder.js";
export * from "./exit-codes.js";
export * from "./home.js";
export { type LoadedRegistry, loadRegistry } from "./plugins.js";
export * from "./progress/events.js";
export { chooseReporter, createReporter, type Reporter, type ReporterKind } from "./progress/reporters.js";
export * from "./queue.js";
export {
  type ExecuteRunOptions,
  type ExecuteRunResult,
  executeRun,
  RunStateError,
  resumableCheckpoint,
} from "./run/execute.js";
export { cancelRun, submitRun, validateForQueue } from "./run/submit.js";
export { startWorker, type WorkerHandle, type WorkerOptions } from "./run/worker.js";
export { heartbeatMs, openRunnerStore, staleAfterMs } from "./store.js";
export type { CheckpointDto, EvaluationDto, ProgressUpdate, RunDetailDto, RunDto } from "./trpc/dto.js";
export { type AppRouter, appRouter, type ControlContext } from "./trpc/router.js";
export {
  type ControlServer,
  type ControlServerOptions,
  DEFAULT_PORT,
  startControlServer,
  TRPC_PATH,
} from "./trpc/server.js";
