/**
 * What the control API returns: plain JSON (dates as ISO strings), so the typed client's types are
 * exactly what arrives over HTTP without a transformer.
 */
import type { Checkpoint, Evaluation, Run } from "@selfsup/store";
import type { RunStatusName } from "../progress/events.js";

/** `T` as it arrives over JSON: every Date (or Date | null) field becomes an ISO string. */
export type Jsonified<T> = {
  [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K];
};

/** A stored run as the API returns it (the store's `Run`, dates as ISO strings). */
export type RunDto = Jsonified<Run>;

/** An evaluation as the API returns it (the store's `Evaluation` without ids). */
export type EvaluationDto = Jsonified<Omit<Evaluation, "id" | "runId">>;

/** A checkpoint row as the API returns it. */
export type CheckpointDto = Jsonified<Pick<Checkpoint, "kind" | "path" | "step" | "createdAt">>;

export interface RunDetailDto {
  run: RunDto;
  evaluations: EvaluationDto[];
  checkpoints: CheckpointDto[];
  /** Highest metric step written so far (null before the first step). */
  lastStep: number | null;
  metricKeys: string[];
}

/** One update of the `progress` subscription: the run's state and its latest step's metrics. */
export interface ProgressUpdate {
  runId: string;
  status: RunStatusName;
  step: number | null;
  /** Values at `step` of loss, lr, images_per_sec and any method metric logged there. */
  metrics: Record<string, number>;
  heartbeatAt: string | null;
  summary: Record<string, number>;
  error: string | null;
  /** True on the last update (the run reached a terminal status). */
  done: boolean;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toRunDto(r: Run): RunDto {
  return {
    id: r.id,
    name: r.name,
    method: r.method,
    family: r.family,
    backbone: r.backbone,
    dataset: r.dataset,
    backend: r.backend,
    host: r.host,
    config: r.config,
    status: r.status,
    error: r.error,
    tags: r.tags,
    notes: r.notes,
    summary: r.summary,
    parentId: r.parentId,
    resumedFrom: r.resumedFrom,
    createdAt: r.createdAt.toISOString(),
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    heartbeatAt: iso(r.heartbeatAt),
  };
}

export function toEvaluationDto(e: Evaluation): EvaluationDto {
  return {
    protocol: e.protocol,
    labelsPerClass: e.labelsPerClass,
    seed: e.seed,
    metric: e.metric,
    value: e.value,
    createdAt: e.createdAt.toISOString(),
  };
}

export function toCheckpointDto(c: Checkpoint): CheckpointDto {
  return { kind: c.kind, path: c.path, step: c.step, createdAt: c.createdAt.toISOString() };
}
