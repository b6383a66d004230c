/**
 * Counts at 1,000,000 runs. The runs page shows how many runs match: unfiltered, that was a scan
 * of every run (150-800 ms at 1M on a busy server), so `runs_count` keeps the total, adjusted by
 * statement-level triggers (one UPDATE per INSERT / DELETE statement, whatever its row count;
 * zeroed by TRUNCATE). Filtered by method and status, the count walks (method, status) index-only
 * instead of visiting 125,000 heap rows; that index also serves method alone, so it replaces
 * runs_method_idx.
 */
export const sql = `
CREATE INDEX runs_method_status_idx ON runs (method, status);
DROP INDEX runs_method_idx;

CREATE TABLE runs_count (
  one  boolean PRIMARY KEY DEFAULT true CHECK (one),
  n    bigint NOT NULL CHECK (n >= 0)
);
INSERT INTO runs_count (n) SELECT count(*) FROM runs;

CREATE FUNCTION runs_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE runs_count SET n = n + (SELECT count(*) FROM added);
  RETURN NULL;
END $$;
CREATE TRIGGER runs_count_added AFTER INSERT ON runs REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION runs_count_added();

CREATE FUNCTION runs_count_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE runs_count SET n = n - (SELECT count(*) FROM gone);
  RETURN NULL;
END $$;
CREATE TRIGGER runs_count_gone AFTER DELETE ON runs REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION runs_count_gone();

CREATE FUNCTION runs_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE runs_count SET n = 0;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_count_truncated AFTER TRUNCATE ON runs
  FOR EACH STATEMENT EXECUTE FUNCTION runs_count_truncated();
`;
