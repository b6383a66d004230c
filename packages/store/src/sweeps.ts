/**
 * Sweep state (migration 009-sweeps): sweeps, their trials (one per configuration), the runs of
 * each trial (one per seed), the sweep metric per run and epoch, and ASHA's rung decisions.
 * The search itself (samplers, ASHA, the coordinator) lives in the runner; this is only storage.
 *
 * Used as `new SweepStore(runStore.db)`: the same database and connection pool as the runs.
 */
import type { Db, Row } from "./db-types.js";
import { StoreError } from "./errors.js";
import { newId } from "./id.js";
import type { RunStatus } from "./schemas.js";
import { pgCode } from "./sql-util.js";

export const SWEEP_STATUSES = ["running", "stopped", "finished", "failed"] as const;
export type SweepStatus = (typeof SWEEP_STATUSES)[number];
export const TRIAL_STATUSES = [
  "pending",
  "running",
  "completed",
  "pruned",
  "failed",
  "invalid",
  "cancelled",
] as const;
export type TrialStatus = (typeof TRIAL_STATUSES)[number];
export type SweepGoal = "maximize" | "minimize";
export type SweepMode = "local" | "queue";

/** Most sweeps one list call returns. */
export const MAX_SWEEP_PAGE = 200;

export interface Sweep {
  id: string;
  name: string;
  status: SweepStatus;
  /** The validated sweep file (base run config, search, metric, parameters, seeds, budget, early stop). */
  spec: Record<string, unknown>;
  search: string;
  metric: string;
  goal: SweepGoal;
  mode: SweepMode;
  error: string | null;
  coordinator: string | null;
  coordinatorAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export interface SweepTrial {
  sweepId: string;
  idx: number;
  params: Record<string, unknown>;
  status: TrialStatus;
  /** The metric at the last epoch, mean over the trial's seeds (null until one finished). */
  value: number | null;
  valueStd: number | null;
  /** Epochs the trial's runs reached (the least over its seeds). */
  epochs: number | null;
  /** The rung (epoch) at which ASHA stopped the trial. */
  prunedAt: number | null;
  error: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface SweepRunLink {
  runId: string;
  sweepId: string;
  trialIdx: number;
  seed: number;
}

export interface SweepRunState extends SweepRunLink {
  status: RunStatus;
  error: string | null;
  tags: string[];
}

export interface SweepEpochValue {
  runId: string;
  trialIdx: number;
  seed: number;
  epoch: number;
  value: number;
}

export interface RungDecision {
  sweepId: string;
  trialIdx: number;
  rung: number;
  decision: "continue" | "stop";
  value: number;
  cutoff: number | null;
}

export interface CreateSweepInput {
  name: string;
  spec: Record<string, unknown>;
  search: string;
  metric: string;
  goal: SweepGoal;
  mode: SweepMode;
}

export interface TrialPatch {
  status?: TrialStatus;
  value?: number | null;
  valueStd?: number | null;
  epochs?: number | null;
  prunedAt?: number | null;
  error?: string | null;
}

const SWEEP_COLUMNS = `id, name, status, spec, search, metric, goal, mode, error, coordinator, coordinator_at,
  created_at, updated_at, finished_at`;
const TRIAL_COLUMNS = `sweep_id, idx, params, status, value, value_std, epochs, pruned_at, error, created_at, updated_at`;

function date(v: unknown): Date {
  return v instanceof Date ? v : new Date(String(v));
}
function dateOrNull(v: unknown): Date | null {
  return v === null || v === undefined ? null : date(v);
}
function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}
function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function toSweep(r: Row): Sweep {
  return {
    id: String(r.id),
    name: String(r.name),
    status: r.status as SweepStatus,
    spec: (r.spec ?? {}) as Record<string, unknown>,
    search: String(r.search),
    metric: String(r.metric),
    goal: r.goal as SweepGoal,
    mode: r.mode as SweepMode,
    error: strOrNull(r.error),
    coordinator: strOrNull(r.coordinator),
    coordinatorAt: dateOrNull(r.coordinator_at),
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
    finishedAt: dateOrNull(r.finished_at),
  };
}

function toTrial(r: Row): SweepTrial {
  return {
    sweepId: String(r.sweep_id),
    idx: Number(r.idx),
    params: (r.params ?? {}) as Record<string, unknown>,
    status: r.status as TrialStatus,
    value: numOrNull(r.value),
    valueStd: numOrNull(r.value_std),
    epochs: numOrNull(r.epochs),
    prunedAt: numOrNull(r.pruned_at),
    error: strOrNull(r.error),
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  };
}

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export class SweepStore {
  constructor(readonly db: Db) {}

  /** A new sweep; a name already taken is a `conflict` naming the other sweep. */
  async createSweep(input: CreateSweepInput): Promise<Sweep> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200)
      throw new StoreError("invalid_input", "name: must be 1 to 200 characters", "name");
    const id = newId();
    try {
      const rows = await this.db.query(
        `INSERT INTO sweeps (id, name, spec, search, metric, goal, mode)
         VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7) RETURNING ${SWEEP_COLUMNS}`,
        [id, name, JSON.stringify(input.spec), input.search, input.metric, input.goal, input.mode],
      );
      return toSweep(rows[0] as Row);
    } catch (err) {
      if (pgCode(err) === "23505") {
        const other = await this.getSweep(name);
        throw new StoreError(
          "conflict",
          `name: a sweep named ${JSON.stringify(name)} already exists (${other?.id ?? "?"}, ${other?.status ?? "?"}); pick another name, or continue it with \`selfsup sweep resume ${name}\``,
          "name",
        );
      }
      throw err;
    }
  }

  /** By id, or by name. */
  async getSweep(idOrName: string): Promise<Sweep | null> {
    const rows = await this.db.query(
      `SELECT ${SWEEP_COLUMNS} FROM sweeps WHERE ${ID_RE.test(idOrName) ? "id = $1 OR " : ""}name = $1
       ORDER BY (id = $1) DESC LIMIT 1`,
      [idOrName],
    );
    return rows[0] ? toSweep(rows[0]) : null;
  }

  /** Newest first, at most `first` (<= 200), optionally only those with a status. */
  async listSweeps(opts: { first?: number; status?: SweepStatus } = {}): Promise<Sweep[]> {
    const first = Math.max(1, Math.min(MAX_SWEEP_PAGE, Math.floor(opts.first ?? 50)));
    const rows = opts.status
      ? await this.db.query(
          `SELECT ${SWEEP_COLUMNS} FROM sweeps WHERE status = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
          [opts.status, first],
        )
      : await this.db.query(
          `SELECT ${SWEEP_COLUMNS} FROM sweeps ORDER BY created_at DESC, id DESC LIMIT $1`,
          [first],
        );
    return rows.map(toSweep);
  }

  async setSweepStatus(id: string, status: SweepStatus, error: string | null = null): Promise<Sweep> {
    const rows = await this.db.query(
      `UPDATE sweeps SET status = $2, error = $3, updated_at = now(),
         finished_at = CASE WHEN $2 = 'running' THEN NULL ELSE now() END
       WHERE id = $1 RETURNING ${SWEEP_COLUMNS}`,
      [id, status, error],
    );
    if (!rows[0]) throw new StoreError("not_found", `no sweep with id ${id}`, "id");
    return toSweep(rows[0]);
  }

  /**
   * Takes the coordinator lease: succeeds when nobody holds it, this coordinator holds it, or the
   * holder has not renewed it for `staleMs` (compared on the database clock).
   */
  async claimSweep(id: string, coordinator: string, staleMs: number): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE sweeps SET coordinator = $2, coordinator_at = now(), updated_at = now()
       WHERE id = $1 AND (coordinator IS NULL OR coordinator = $2 OR coordinator_at IS NULL
         OR coordinator_at < now() - ($3::double precision * interval '1 millisecond'))
       RETURNING id`,
      [id, coordinator, staleMs],
    );
    return rows.length > 0;
  }

  /** Renews the lease; false when another coordinator took it. */
  async touchSweep(id: string, coordinator: string): Promise<boolean> {
    const rows = await this.db.query(
      `UPDATE sweeps SET coordinator_at = now() WHERE id = $1 AND coordinator = $2 RETURNING id`,
      [id, coordinator],
    );
    return rows.length > 0;
  }

  async releaseSweep(id: string, coordinator: string): Promise<void> {
    await this.db.query(
      `UPDATE sweeps SET coordinator = NULL, coordinator_at = NULL WHERE id = $1 AND coordinator = $2`,
      [id, coordinator],
    );
  }

  /** Adds trial `idx` with its parameters; if it exists already (a resumed coordinator), returns it unchanged. */
  async addTrial(
    sweepId: string,
    idx: number,
    params: Record<string, unknown>,
    extra: TrialPatch = {},
  ): Promise<SweepTrial> {
    await this.db.query(
      `INSERT INTO sweep_trials (sweep_id, idx, params, status, error) VALUES ($1, $2, $3::jsonb, $4, $5)
       ON CONFLICT (sweep_id, idx) DO NOTHING`,
      [sweepId, idx, JSON.stringify(params), extra.status ?? "pending", extra.error ?? null],
    );
    const rows = await this.db.query(
      `SELECT ${TRIAL_COLUMNS} FROM sweep_trials WHERE sweep_id = $1 AND idx = $2`,
      [sweepId, idx],
    );
    return toTrial(rows[0] as Row);
  }

  async updateTrial(sweepId: string, idx: number, patch: TrialPatch): Promise<void> {
    const sets: string[] = [];
    const params: (string | number | null)[] = [sweepId, idx];
    const put = (column: string, v: string | number | null | undefined) => {
      if (v === undefined) return;
      params.push(v);
      sets.push(`${column} = $${params.length}`);
    };
    put("status", patch.status);
    put("value", patch.value);
    put("value_std", patch.valueStd);
    put("epochs", patch.epochs);
    put("pruned_at", patch.prunedAt);
    put("error", patch.error);
    if (sets.length === 0) return;
    await this.db.query(
      `UPDATE sweep_trials SET ${sets.join(", ")}, updated_at = now() WHERE sweep_id = $1 AND idx = $2`,
      params,
    );
  }

  async listTrials(sweepId: string): Promise<SweepTrial[]> {
    const rows = await this.db.query(
      `SELECT ${TRIAL_COLUMNS} FROM sweep_trials WHERE sweep_id = $1 ORDER BY idx`,
      [sweepId],
    );
    return rows.map(toTrial);
  }

  async linkRun(link: SweepRunLink): Promise<void> {
    await this.db.query(
      `INSERT INTO sweep_runs (run_id, sweep_id, trial_idx, seed) VALUES ($1, $2, $3, $4)`,
      [link.runId, link.sweepId, link.trialIdx, link.seed],
    );
  }

  /** The sweep link of a run, or null for a run outside any sweep. */
  async runLink(runId: string): Promise<SweepRunLink | null> {
    const rows = await this.db.query(
      `SELECT run_id, sweep_id, trial_idx, seed FROM sweep_runs WHERE run_id = $1`,
      [runId],
    );
    const r = rows[0];
    return r
      ? {
          runId: String(r.run_id),
          sweepId: String(r.sweep_id),
          trialIdx: Number(r.trial_idx),
          seed: Number(r.seed),
        }
      : null;
  }

  /** Every run of the sweep with its current status. */
  async sweepRuns(sweepId: string): Promise<SweepRunState[]> {
    const rows = await this.db.query(
      `SELECT s.run_id, s.sweep_id, s.trial_idx, s.seed, r.status, r.error, r.tags
       FROM sweep_runs s JOIN runs r ON r.id = s.run_id WHERE s.sweep_id = $1 ORDER BY s.trial_idx, s.seed`,
      [sweepId],
    );
    return rows.map((r) => ({
      runId: String(r.run_id),
      sweepId: String(r.sweep_id),
      trialIdx: Number(r.trial_idx),
      seed: Number(r.seed),
      status: r.status as RunStatus,
      error: strOrNull(r.error),
      tags: (r.tags ?? []) as string[],
    }));
  }

  /** The metric of a run at the end of `epoch` (1-based); a replayed epoch overwrites. */
  async recordEpochValue(runId: string, epoch: number, value: number): Promise<void> {
    if (!Number.isFinite(value)) return;
    await this.db.query(
      `INSERT INTO sweep_epoch_values (run_id, epoch, value) VALUES ($1, $2, $3)
       ON CONFLICT (run_id, epoch) DO UPDATE SET value = EXCLUDED.value`,
      [runId, epoch, value],
    );
  }

  /** All epoch values of the sweep (optionally only at one epoch). */
  async epochValues(sweepId: string, epoch?: number): Promise<SweepEpochValue[]> {
    const rows = await this.db.query(
      `SELECT v.run_id, s.trial_idx, s.seed, v.epoch, v.value
       FROM sweep_epoch_values v JOIN sweep_runs s ON s.run_id = v.run_id
       WHERE s.sweep_id = $1 ${epoch !== undefined ? "AND v.epoch = $2" : ""}
       ORDER BY s.trial_idx, s.seed, v.epoch`,
      epoch !== undefined ? [sweepId, epoch] : [sweepId],
    );
    return rows.map((r) => ({
      runId: String(r.run_id),
      trialIdx: Number(r.trial_idx),
      seed: Number(r.seed),
      epoch: Number(r.epoch),
      value: Number(r.value),
    }));
  }

  /**
   * Records ASHA's decision for a trial at a rung unless one exists, and returns the decision that
   * stands (the first writer's): seeds of one trial and a resumed attempt all act on the same one.
   */
  async decideRung(d: RungDecision): Promise<RungDecision> {
    await this.db.query(
      `INSERT INTO sweep_rungs (sweep_id, trial_idx, rung, decision, value, cutoff) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (sweep_id, trial_idx, rung) DO NOTHING`,
      [d.sweepId, d.trialIdx, d.rung, d.decision, d.value, d.cutoff],
    );
    const rows = await this.db.query(
      `SELECT sweep_id, trial_idx, rung, decision, value, cutoff FROM sweep_rungs
       WHERE sweep_id = $1 AND trial_idx = $2 AND rung = $3`,
      [d.sweepId, d.trialIdx, d.rung],
    );
    const r = rows[0] as Row;
    return {
      sweepId: String(r.sweep_id),
      trialIdx: Number(r.trial_idx),
      rung: Number(r.rung),
      decision: r.decision as "continue" | "stop",
      value: Number(r.value),
      cutoff: numOrNull(r.cutoff),
    };
  }

  async rungDecisions(sweepId: string): Promise<RungDecision[]> {
    const rows = await this.db.query(
      `SELECT sweep_id, trial_idx, rung, decision, value, cutoff FROM sweep_rungs WHERE sweep_id = $1
       ORDER BY rung, trial_idx`,
      [sweepId],
    );
    return rows.map((r) => ({
      sweepId: String(r.sweep_id),
      trialIdx: Number(r.trial_idx),
      rung: Number(r.rung),
      decision: r.decision as "continue" | "stop",
      value: Number(r.value),
      cutoff: numOrNull(r.cutoff),
    }));
  }
}
