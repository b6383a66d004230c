import type { Row } from "./db-types.js";
import type { RunStatus } from "./schemas.js";
import type { Artifact, Checkpoint, Evaluation, Run, RunListing } from "./types.js";

/** Row -> typed object mappers shared by the repositories. */

export const RUN_COLUMNS = `id, name, method, family, backbone, dataset, backend, host, config, status, error, tags,
  notes, summary, parent_id, resumed_from, created_at, started_at, finished_at, heartbeat_at`;

/** RUN_COLUMNS less `config` (large JSON): for lists that do not show it (listRunListings). */
export const RUN_LISTING_COLUMNS = RUN_COLUMNS.replace("config, ", "");

export const ARTIFACT_COLUMNS = "id, run_id, kind, name, mime, step, bytes, data, size, created_at";

function date(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}

function dateOrNull(v: unknown): Date | null {
  return v === null || v === undefined ? null : date(v);
}

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

export function toRun(r: Row): Run {
  return {
    id: String(r.id),
    name: String(r.name),
    method: String(r.method),
    family: strOrNull(r.family),
    backbone: strOrNull(r.backbone),
    dataset: strOrNull(r.dataset),
    backend: strOrNull(r.backend),
    host: strOrNull(r.host),
    config: (r.config ?? {}) as Record<string, unknown>,
    status: r.status as RunStatus,
    error: strOrNull(r.error),
    tags: (r.tags ?? []) as string[],
    notes: strOrNull(r.notes),
    summary: (r.summary ?? {}) as Record<string, number>,
    parentId: strOrNull(r.parent_id),
    resumedFrom: strOrNull(r.resumed_from),
    createdAt: date(r.created_at),
    startedAt: dateOrNull(r.started_at),
    finishedAt: dateOrNull(r.finished_at),
    heartbeatAt: dateOrNull(r.heartbeat_at),
  };
}

/** A run read with RUN_LISTING_COLUMNS: everything but its config. */
export function toRunListing(r: Row): RunListing {
  const { config: _config, ...rest } = toRun(r);
  return rest;
}

export function toEvaluation(r: Row): Evaluation {
  return {
    id: Number(r.id),
    runId: String(r.run_id),
    protocol: String(r.protocol),
    labelsPerClass: r.labels_per_class === null ? null : Number(r.labels_per_class),
    seed: Number(r.seed),
    metric: String(r.metric),
    value: Number(r.value),
    createdAt: date(r.created_at),
  };
}

export function toCheckpoint(r: Row): Checkpoint {
  return {
    id: Number(r.id),
    runId: String(r.run_id),
    kind: r.kind as "latest" | "best",
    path: String(r.path),
    step: Number(r.step),
    checksum: strOrNull(r.checksum),
    createdAt: date(r.created_at),
  };
}

export function toArtifact(r: Row): Artifact {
  const bytes = r.bytes;
  return {
    id: Number(r.id),
    runId: String(r.run_id),
    kind: String(r.kind),
    name: String(r.name),
    mime: String(r.mime),
    step: r.step === null ? null : Number(r.step),
    bytes:
      bytes instanceof Uint8Array ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : null,
    data: r.data ?? null,
    size: Number(r.size),
    createdAt: date(r.created_at),
  };
}
