/**
 * Metric series. The primary key (run_id, key, step) makes appends idempotent (a replayed batch
 * after a crash upserts the same rows) and is the index every series read walks. `metric_keys`
 * is a tiny side table so listing a run's keys and finding its last step do not scan a million
 * points.
 */
export const sql = `
CREATE TABLE metric_points (
  run_id     text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key        text NOT NULL,
  step       bigint NOT NULL CHECK (step >= 0),
  value      double precision NOT NULL,
  wall_time  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, key, step)
);
CREATE TABLE metric_keys (
  run_id  text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key     text NOT NULL,
  PRIMARY KEY (run_id, key)
);
`;
