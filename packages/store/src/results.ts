import type { Db } from "./db-types.js";
import { notFound, StoreError } from "./errors.js";
import { ARTIFACT_COLUMNS, toArtifact, toCheckpoint, toEvaluation } from "./rows.js";
import {
  artifactNameSchema,
  artifactSchema,
  checkpointSchema,
  evaluationSchema,
  idSchema,
  keySchema,
  leaderboardSchema,
  MAX_ARTIFACT_BYTES,
  parse,
} from "./schemas.js";
import { Params, pgCode } from "./sql-util.js";
import type {
  Artifact,
  ArtifactInput,
  Checkpoint,
  CheckpointInput,
  Evaluation,
  EvaluationInput,
  LeaderboardEntry,
  LeaderboardOptions,
} from "./types.js";

/** What a run produces besides series: evaluations (and the leaderboard over them), checkpoints, artifacts. */
export class ResultsRepo {
  constructor(private readonly db: Db) {}

  /** Records an evaluation result; the same (run, protocol, labels, seed, metric) replaces the value. */
  async addEvaluation(input: EvaluationInput): Promise<Evaluation> {
    const v = parse(evaluationSchema, input, "evaluation");
    try {
      const rows = await this.db.query(
        `INSERT INTO evaluations (run_id, protocol, labels_per_class, seed, metric, value)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT ON CONSTRAINT evaluations_unique DO UPDATE SET value = EXCLUDED.value, created_at = now()
         RETURNING id, run_id, protocol, labels_per_class, seed, metric, value, created_at`,
        [v.runId, v.protocol, v.labelsPerClass ?? null, v.seed ?? 0, v.metric, v.value],
      );
      return toEvaluation(rows[0]);
    } catch (err) {
      if (pgCode(err) === "23503") throw notFound(v.runId, "runId");
      throw err;
    }
  }

  /** A run's evaluations, by protocol, labels, metric, seed. */
  async getEvaluations(runId: string): Promise<Evaluation[]> {
    const id = parse(idSchema, runId, "run id", "runId");
    const rows = await this.db.query(
      `SELECT id, run_id, protocol, labels_per_class, seed, metric, value, created_at FROM evaluations
       WHERE run_id = $1 ORDER BY protocol, labels_per_class NULLS LAST, metric, seed`,
      [id],
    );
    return rows.map(toEvaluation);
  }

  /**
   * Best run per method (and label budget) on a dataset for one protocol and metric. A run's score
   * is the mean over its seeds; entries come sorted by label budget, then best first.
   */
  async leaderboard(
    dataset: string,
    protocol: string,
    metric: string,
    options: LeaderboardOptions = {},
  ): Promise<LeaderboardEntry[]> {
    const v = parse(leaderboardSchema, { dataset, protocol, metric, ...options }, "leaderboard input");
    const p = new Params();
    const where = [
      `r.dataset = ${p.add(v.dataset)}`,
      `e.protocol = ${p.add(v.protocol)}`,
      `e.metric = ${p.add(v.metric)}`,
    ];
    if (!v.includeUnfinished) where.push("r.status = 'finished'");
    if (v.labelsPerClass !== undefined) {
      where.push(`e.labels_per_class IS NOT DISTINCT FROM ${p.add(v.labelsPerClass)}::int`);
    }
    const dir = v.lowerIsBetter ? "ASC" : "DESC";
    const rows = await this.db.query(
      `WITH per_run AS (
         SELECT e.run_id, e.labels_per_class, avg(e.value) AS value, stddev_samp(e.value) AS std,
                count(*)::int AS seeds
         FROM evaluations e JOIN runs r ON r.id = e.run_id
         WHERE ${where.join(" AND ")}
         GROUP BY e.run_id, e.labels_per_class
       ),
       best AS (
         SELECT DISTINCT ON (r.method, pr.labels_per_class)
                r.method, r.family, pr.labels_per_class, pr.value, pr.std, pr.seeds, r.id AS run_id,
                r.name AS run_name, r.backbone
         FROM per_run pr JOIN runs r ON r.id = pr.run_id
         ORDER BY r.method, pr.labels_per_class, pr.value ${dir}, pr.seeds DESC, r.id
       )
       SELECT * FROM best ORDER BY labels_per_class NULLS LAST, value ${dir}, method`,
      p.values,
    );
    return rows.map((r) => ({
      method: String(r.method),
      family: (r.family as string | null) ?? null,
      labelsPerClass: r.labels_per_class === null ? null : Number(r.labels_per_class),
      value: Number(r.value),
      std: r.std === null ? null : Number(r.std),
      seeds: Number(r.seeds),
      runId: String(r.run_id),
      runName: String(r.run_name),
      backbone: (r.backbone as string | null) ?? null,
    }));
  }

  /** Records a checkpoint file; the same (run, kind, path) updates step/checksum (a rewritten "latest"). */
  async addCheckpoint(input: CheckpointInput): Promise<Checkpoint> {
    const v = parse(checkpointSchema, input, "checkpoint");
    try {
      const rows = await this.db.query(
        `INSERT INTO checkpoints (run_id, kind, path, step, checksum) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT ON CONSTRAINT checkpoints_unique
         DO UPDATE SET step = EXCLUDED.step, checksum = EXCLUDED.checksum, created_at = now()
         RETURNING id, run_id, kind, path, step, checksum, created_at`,
        [v.runId, v.kind ?? "latest", v.path, v.step, v.checksum ?? null],
      );
      return toCheckpoint(rows[0]);
    } catch (err) {
      if (pgCode(err) === "23503") throw notFound(v.runId, "runId");
      throw err;
    }
  }

  /** The checkpoint with the highest step (of `kind`, or any kind), or null: what resume loads. */
  async latestCheckpoint(runId: string, kind?: "latest" | "best"): Promise<Checkpoint | null> {
    const id = parse(idSchema, runId, "run id", "runId");
    if (kind !== undefined && kind !== "latest" && kind !== "best") {
      throw new StoreError("invalid_input", "kind: must be latest or best", "kind");
    }
    const rows = await this.db.query(
      `SELECT id, run_id, kind, path, step, checksum, created_at FROM checkpoints
       WHERE run_id = $1 AND ($2::text IS NULL OR kind = $2::text)
       ORDER BY step DESC, created_at DESC, id DESC LIMIT 1`,
      [id, kind ?? null],
    );
    return rows.length ? toCheckpoint(rows[0]) : null;
  }

  /** All checkpoints of a run, by step. */
  async listCheckpoints(runId: string): Promise<Checkpoint[]> {
    const id = parse(idSchema, runId, "run id", "runId");
    const rows = await this.db.query(
      `SELECT id, run_id, kind, path, step, checksum, created_at FROM checkpoints
       WHERE run_id = $1 ORDER BY step, id`,
      [id],
    );
    return rows.map(toCheckpoint);
  }

  /**
   * Forgets the checkpoint rows at `paths` (any kind): their directories were pruned or found
   * corrupt, and the table stays true to what is on disk. Returns how many rows went.
   */
  async deleteCheckpoints(runId: string, paths: readonly string[]): Promise<number> {
    const id = parse(idSchema, runId, "run id", "runId");
    if (
      !Array.isArray(paths) ||
      paths.some((p) => typeof p !== "string" || p.length === 0 || p.length > 4096)
    )
      throw new StoreError(
        "invalid_input",
        "paths: must be non-empty strings of at most 4096 characters",
        "paths",
      );
    if (paths.length === 0) return 0;
    const rows = await this.db.query<{ n: number }>(
      `WITH d AS (DELETE FROM checkpoints WHERE run_id = $1 AND path = ANY($2::text[]) RETURNING 1)
       SELECT count(*)::int AS n FROM d`,
      [id, [...paths]],
    );
    return Number(rows[0]?.n ?? 0);
  }

  /**
   * Stores an image (bytes) or JSON data (scatter points) for the dashboard. The same
   * (run, kind, name) replaces the previous payload.
   */
  async addArtifact(input: ArtifactInput): Promise<Artifact> {
    const v = parse(artifactSchema, input, "artifact");
    let json: string | null = null;
    if (v.bytes === undefined) {
      json = JSON.stringify(v.data);
      if (json === undefined)
        throw new StoreError("invalid_input", "invalid artifact: data: not JSON", "data");
      if (Buffer.byteLength(json) > MAX_ARTIFACT_BYTES) {
        throw new StoreError("invalid_input", "invalid artifact: data: larger than 32 MiB as JSON", "data");
      }
    }
    const bytes =
      v.bytes === undefined ? null : Buffer.from(v.bytes.buffer, v.bytes.byteOffset, v.bytes.byteLength);
    try {
      const rows = await this.db.query(
        `INSERT INTO artifacts (run_id, kind, name, mime, step, bytes, data, size)
         VALUES ($1, $2, $3, $4, $5, $6::bytea, $7::jsonb, $8)
         ON CONFLICT ON CONSTRAINT artifacts_unique DO UPDATE
           SET mime = EXCLUDED.mime, step = EXCLUDED.step, bytes = EXCLUDED.bytes, data = EXCLUDED.data,
               size = EXCLUDED.size, created_at = now()
         RETURNING ${ARTIFACT_COLUMNS}`,
        [
          v.runId,
          v.kind,
          v.name,
          v.mime,
          v.step ?? null,
          bytes,
          json,
          bytes ? bytes.byteLength : Buffer.byteLength(json ?? ""),
        ],
      );
      return toArtifact(rows[0]);
    } catch (err) {
      if (pgCode(err) === "23503") throw notFound(v.runId, "runId");
      throw err;
    }
  }

  /** A run's artifacts (optionally one kind), by kind and name; `includeBytes: false` for a listing. */
  async getArtifacts(
    runId: string,
    options: { kind?: string; includeBytes?: boolean } = {},
  ): Promise<Artifact[]> {
    const id = parse(idSchema, runId, "run id", "runId");
    const kind = options.kind === undefined ? null : parse(keySchema, options.kind, "kind", "kind");
    const cols =
      options.includeBytes === false
        ? ARTIFACT_COLUMNS.replace("bytes,", "NULL::bytea AS bytes,")
        : ARTIFACT_COLUMNS;
    const rows = await this.db.query(
      `SELECT ${cols} FROM artifacts WHERE run_id = $1 AND ($2::text IS NULL OR kind = $2::text)
       ORDER BY kind, name`,
      [id, kind],
    );
    return rows.map(toArtifact);
  }

  /** One artifact by (run, kind, name), or null. */
  async getArtifact(runId: string, kind: string, name: string): Promise<Artifact | null> {
    const id = parse(idSchema, runId, "run id", "runId");
    const k = parse(keySchema, kind, "kind", "kind");
    const n = parse(artifactNameSchema, name, "artifact name", "name");
    const rows = await this.db.query(
      `SELECT ${ARTIFACT_COLUMNS} FROM artifacts WHERE run_id = $1 AND kind = $2 AND name = $3`,
      [id, k, n],
    );
    return rows.length ? toArtifact(rows[0]) : null;
  }
}
