/**
 * What a run reports while it trains. The CLI renders these (bar, log lines or JSON lines), the
 * worker logs them, and the tRPC API streams the same shape to subscribers.
 */
import type { RunStatus } from "@selfsup/store";

/** A run's status, as the store defines it. */
export type RunStatusName = RunStatus;

export interface StartEvent {
  type: "start";
  runId: string;
  name: string;
  method: string;
  dataset: string;
  backend: string;
  /** Why this backend (one line per candidate tried). */
  backendReport: string;
  runDir: string;
  epochs: number;
  stepsPerEpoch: number;
  totalSteps: number;
  /** 0 for a new run; the checkpoint's step for a resumed one. */
  startStep: number;
  resumed: boolean;
}

export interface StepEvent {
  type: "step";
  runId: string;
  /** 1-based optimizer step; the step metrics are stored under. */
  step: number;
  /** 0-based epoch. */
  epoch: number;
  epochs: number;
  /** 1-based step within the epoch. */
  epochStep: number;
  stepsPerEpoch: number;
  totalSteps: number;
  loss: number;
  lr: number;
  imagesPerSec: number;
  /** Seconds left at the current speed. */
  etaSec: number;
  metrics: Record<string, number>;
}

export interface EpochEvent {
  type: "epoch";
  runId: string;
  epoch: number;
  epochs: number;
  step: number;
  /** Mean loss of the epoch's steps. */
  loss: number;
  /** Evaluations done at this epoch's end (e.g. knn_top1). */
  evals: Record<string, number>;
}

export interface CheckpointEvent {
  type: "checkpoint";
  runId: string;
  step: number;
  path: string;
  reason: "epoch" | "interval" | "interrupt" | "end";
}

export interface EvalEvent {
  type: "eval";
  runId: string;
  protocol: string;
  metric: string;
  value: number;
  std?: number;
  labelsPerClass: number | null;
}

export interface LogEvent {
  type: "log";
  runId: string;
  level: "info" | "warn";
  message: string;
}

export interface EndEvent {
  type: "end";
  runId: string;
  status: RunStatusName;
  step: number;
  summary: Record<string, number>;
  error: string | null;
  durationSec: number;
}

export type ProgressEvent =
  | StartEvent
  | StepEvent
  | EpochEvent
  | CheckpointEvent
  | EvalEvent
  | LogEvent
  | EndEvent;

/** Receives a run's events; reporters never throw into the training loop. */
export type ProgressSink = (event: ProgressEvent) => void;
