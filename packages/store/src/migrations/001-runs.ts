/**
 * Runs: one row per training/eval run. Status is a CHECK-ed text (not an enum type) so a later
 * migration can add a status without ALTER TYPE gymnastics. `summary` holds final/best numbers
 * ({"knn_top1": 0.93, "loss": 1.2}) and is what the runs table sorts on (`summary:<key>`).
 */
export const sql = `
CREATE TABLE runs (
  id            text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  name          text NOT NULL,
  method        text NOT NULL,
  family        text,
  backbone      text,
  dataset       text,
  backend       text,
  host          text,
  config        jsonb NOT NULL DEFAULT '{}'::jsonb,
  status        text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'finished', 'failed', 'interrupted', 'cancelled')),
  error         text,
  tags          text[] NOT NULL DEFAULT '{}',
  notes         text,
  summary       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(summary) = 'object'),
  parent_id     text REFERENCES runs (id) ON DELETE SET NULL,
  resumed_from  text REFERENCES runs (id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  heartbeat_at  timestamptz
);
-- Keyset pagination indexes: (sort value, id) so ties are broken by id inside the index.
CREATE INDEX runs_created_idx ON runs (created_at, id);
CREATE INDEX runs_name_idx ON runs (name, id);
CREATE INDEX runs_method_idx ON runs (method);
CREATE INDEX runs_dataset_idx ON runs (dataset);
CREATE INDEX runs_tags_idx ON runs USING gin (tags);
-- markStaleRuns scans only running runs.
CREATE INDEX runs_running_idx ON runs (heartbeat_at) WHERE status = 'running';
`;
