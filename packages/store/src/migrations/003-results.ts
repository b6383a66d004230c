/**
 * What a run produces besides its series: evaluations (the leaderboard reads these), checkpoints
 * (resume reads the latest), and artifacts (images and scatter data the dashboard shows).
 * Evaluations are unique per (run, protocol, labels, seed, metric) so re-running an evaluation
 * replaces its value instead of adding a duplicate; NULLS NOT DISTINCT (PostgreSQL 15+) makes
 * "no label budget" (full labels) count as one value.
 */
export const sql = `
CREATE TABLE evaluations (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id            text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  protocol          text NOT NULL,
  labels_per_class  integer CHECK (labels_per_class IS NULL OR labels_per_class > 0),
  seed              integer NOT NULL DEFAULT 0,
  metric            text NOT NULL,
  value             double precision NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT evaluations_unique UNIQUE NULLS NOT DISTINCT (run_id, protocol, labels_per_class, seed, metric)
);
CREATE INDEX evaluations_board_idx ON evaluations (protocol, metric, labels_per_class);

CREATE TABLE checkpoints (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  kind        text NOT NULL DEFAULT 'latest' CHECK (kind IN ('latest', 'best')),
  path        text NOT NULL,
  step        bigint NOT NULL CHECK (step >= 0),
  checksum    text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT checkpoints_unique UNIQUE (run_id, kind, path)
);
CREATE INDEX checkpoints_run_idx ON checkpoints (run_id, kind, step);

CREATE TABLE artifacts (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id      text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  kind        text NOT NULL,
  name        text NOT NULL,
  mime        text NOT NULL,
  step        bigint CHECK (step IS NULL OR step >= 0),
  bytes       bytea,
  data        jsonb,
  size        integer NOT NULL CHECK (size >= 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT artifacts_payload CHECK ((bytes IS NULL) <> (data IS NULL)),
  CONSTRAINT artifacts_unique UNIQUE (run_id, kind, name)
);
`;
