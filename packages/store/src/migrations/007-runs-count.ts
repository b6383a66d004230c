/**
 * Counts at 1,000,000 runs. The runs page shows how many runs match; counting them scanned every
 * run (150-800 ms at 1M on a busy server), or, filtered by method and status, visited 125,000 heap
 * rows. `runs_count` keeps the number of runs per (method, status), so the total and any count
 * filtered only by method and/or status sum a few dozen rows. Kept by triggers on runs: per
 * INSERT / DELETE statement (transition tables: one upsert whatever the row count), per row for
 * an UPDATE that changes method or status (heartbeats do not fire it), emptied by TRUNCATE. An
 * update moves one run between two counter rows in (method, status) order, so concurrent moves
 * cannot deadlock on them. Other filters count rows; the (method, status) index serves method
 * alone too, so it replaces runs_method_idx.
 */
export const sql = `
CREATE INDEX runs_method_status_idx ON runs (method, status);
DROP INDEX runs_method_idx;

CREATE TABLE runs_count (
  method  text NOT NULL,
  status  text NOT NULL,
  n       bigint NOT NULL,
  PRIMARY KEY (method, status)
);
INSERT INTO runs_count (method, status, n) SELECT method, status, count(*) FROM runs GROUP BY method, status;

CREATE FUNCTION runs_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO runs_count AS c (method, status, n)
  SELECT method, status, count(*) FROM added GROUP BY method, status ORDER BY method, status
  ON CONFLICT (method, status) DO UPDATE SET n = c.n + EXCLUDED.n;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_count_added AFTER INSERT ON runs REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION runs_count_added();

CREATE FUNCTION runs_count_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO runs_count AS c (method, status, n)
  SELECT method, status, -count(*) FROM gone GROUP BY method, status ORDER BY method, status
  ON CONFLICT (method, status) DO UPDATE SET n = c.n + EXCLUDED.n;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_count_gone AFTER DELETE ON runs REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION runs_count_gone();

CREATE FUNCTION runs_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO runs_count AS c (method, status, n)
  SELECT m, s, d FROM (VALUES (OLD.method, OLD.status, -1), (NEW.method, NEW.status, 1)) AS v(m, s, d)
  ORDER BY m, s
  ON CONFLICT (method, status) DO UPDATE SET n = c.n + EXCLUDED.n;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_count_moved AFTER UPDATE OF method, status ON runs
  FOR EACH ROW WHEN (OLD.method IS DISTINCT FROM NEW.method OR OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION runs_count_moved();

CREATE FUNCTION runs_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM runs_count;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_count_truncated AFTER TRUNCATE ON runs
  FOR EACH STATEMENT EXECUTE FUNCTION runs_count_truncated();
`;
