/**
 * What a callback sees of the trainer (the Trainer implements it): kept apart from trainer.ts so
 * callbacks and the trainer import this module, never each other.
 */
import type { CheckpointManifest } from "../checkpoint/checkpoint.js";
import type { Dataset, Method } from "../plugin/types.js";
import type { TrainConfig } from "./config.js";

export type FitStatus = "completed" | "interrupted";

/** What one finished step reports to callbacks. */
export interface StepEnd {
  /** Optimizer steps completed (1 after the first update). */
  step: number;
  epoch: number;
  loss: number;
  metrics: Record<string, number>;
}

export interface TrainerView {
  readonly method: Method;
  readonly dataset: Dataset;
  readonly config: TrainConfig;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  /** Optimizer steps completed. */
  readonly step: number;
  /** Epoch in progress (0-based). */
  readonly epoch: number;
  /** Steps completed inside the current epoch. */
  readonly stepInEpoch: number;
  /** Latest value of every metric emitted (checkpoints record them for keep-best). */
  readonly lastMetrics: Record<string, number>;
  /** Emits metrics to every callback's onMetrics (and records them in lastMetrics). */
  emit(step: number, metrics: Record<string, number>): Promise<void>;
  saveCheckpoint(dir: string): Promise<CheckpointManifest>;
}

export interface TrainEndInfo {
  status: FitStatus | "failed";
  step: number;
  epoch: number;
  /** The error that stopped training (status "failed"). */
  error?: unknown;
}

export interface TrainerCallback {
  onTrainStart?(trainer: TrainerView): Promise<void> | void;
  /** Every metric emitted: per step ({loss, lr, grad_norm, images_per_sec, ...}) and evaluations. */
  onMetrics?(step: number, metrics: Record<string, number>, trainer: TrainerView): Promise<void> | void;
  onStepEnd?(info: StepEnd, trainer: TrainerView): Promise<void> | void;
  /** After method.onEpochEnd; `trainer.epoch` is already the next epoch. */
  onEpochEnd?(epoch: number, trainer: TrainerView): Promise<void> | void;
  /** Last call of a fit: completed, interrupted (AbortSignal) or failed (then `error` is set). */
  onTrainEnd?(info: TrainEndInfo, trainer: TrainerView): Promise<void> | void;
  /** A method's note to the user (`EpochContext.note`: a setting it adjusted to the data). */
  onNote?(message: string, trainer: TrainerView): void;
}
