/**
 * Sweeps (`selfsup sweep`): a search over run configs. The sweep's whole state lives here so any
 * process can die and `selfsup sweep resume` continues where it was:
 * - `sweeps`: the validated sweep file (`spec`), status, and which coordinator holds it (a lease:
 *   `coordinator` + `coordinator_at`, refreshed while it runs);
 * - `sweep_trials`: one row per configuration (index, sampled parameters, derived status, the
 *   metric as mean/std over its seeds);
 * - `sweep_runs`: the runs of a trial, one per seed (a run is an ordinary `runs` row);
 * - `sweep_epoch_values`: the sweep metric of each run at the end of each epoch (what ASHA and TPE
 *   read; the full series stays in metric_points);
 * - `sweep_rungs`: ASHA's decision for a trial at a rung, written once (the first seed to reach
 *   the rung decides; later seeds and a resumed attempt read it back).
 */
export const sql = `
CREATE TABLE sweeps (
  id             text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  name           text NOT NULL UNIQUE,
  status         text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'stopped', 'finished', 'failed')),
  spec           jsonb NOT NULL,
  search         text NOT NULL,
  metric         text NOT NULL,
  goal           text NOT NULL CHECK (goal IN ('maximize', 'minimize')),
  mode           text NOT NULL DEFAULT 'local' CHECK (mode IN ('local', 'queue')),
  error          text,
  coordinator    text,
  coordinator_at timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz
);
CREATE INDEX sweeps_created_idx ON sweeps (created_at, id);

CREATE TABLE sweep_trials (
  sweep_id    text NOT NULL REFERENCES sweeps (id) ON DELETE CASCADE,
  idx         integer NOT NULL CHECK (idx >= 0),
  params      jsonb NOT NULL,
  status      text NOT NULL DEFAULT 'pending'
              CHECK (status IN ('pending', 'running', 'completed', 'pruned', 'failed', 'invalid', 'cancelled')),
  value       double precision,
  value_std   double precision,
  epochs      integer,
  pruned_at   integer,
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sweep_id, idx)
);

CREATE TABLE sweep_runs (
  run_id     text PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  sweep_id   text NOT NULL,
  trial_idx  integer NOT NULL,
  seed       integer NOT NULL,
  FOREIGN KEY (sweep_id, trial_idx) REFERENCES sweep_trials (sweep_id, idx) ON DELETE CASCADE,
  UNIQUE (sweep_id, trial_idx, seed)
);

CREATE TABLE sweep_epoch_values (
  run_id  text NOT NULL REFERENCES sweep_runs (run_id) ON DELETE CASCADE,
  epoch   integer NOT NULL CHECK (epoch >= 1),
  value   double precision NOT NULL,
  PRIMARY KEY (run_id, epoch)
);

CREATE TABLE sweep_rungs (
  sweep_id   text NOT NULL,
  trial_idx  integer NOT NULL,
  rung       integer NOT NULL CHECK (rung >= 1),
  decision   text NOT NULL CHECK (decision IN ('continue', 'stop')),
  value      double precision NOT NULL,
  cutoff     double precision,
  decided_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sweep_id, trial_idx, rung),
  FOREIGN KEY (sweep_id, trial_idx) REFERENCES sweep_trials (sweep_id, idx) ON DELETE CASCADE
);
`;
