/**
 * Runs queries at 100k+ runs.
 *
 * - `run_summary`: one row per numeric summary entry, kept by a trigger on runs (so rows written
 *   around the store are covered too), indexed (key, value, run_id): sorting by a summary metric
 *   walks that index instead of extracting JSON from every run and sorting them all.
 * - Trigram indexes on name, method and notes where pg_trgm can be created (PGlite loads it; on a
 *   server it needs the contrib package and the right to create it), so the runs page's substring
 *   search (ILIKE '%text%') uses a bitmap of the three instead of scanning every run. Without
 *   pg_trgm the search still works, by scanning. The extension lives in `public` so that schemas
 *   sharing a database (and dropping theirs) do not drop it under each other.
 */
export const sql = `
CREATE TABLE run_summary (
  run_id  text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key     text NOT NULL,
  value   double precision NOT NULL,
  PRIMARY KEY (run_id, key)
);
CREATE INDEX run_summary_sort_idx ON run_summary (key, value, run_id);

CREATE FUNCTION runs_summary_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    DELETE FROM run_summary WHERE run_id = NEW.id;
  END IF;
  INSERT INTO run_summary (run_id, key, value)
  SELECT NEW.id, e.key, (e.value #>> '{}')::float8
  FROM jsonb_each(NEW.summary) AS e WHERE jsonb_typeof(e.value) = 'number';
  RETURN NULL;
END $$;
CREATE TRIGGER runs_summary_sync AFTER INSERT OR UPDATE OF summary ON runs
  FOR EACH ROW EXECUTE FUNCTION runs_summary_sync();

INSERT INTO run_summary (run_id, key, value)
SELECT r.id, e.key, (e.value #>> '{}')::float8
FROM runs r CROSS JOIN LATERAL jsonb_each(r.summary) AS e WHERE jsonb_typeof(e.value) = 'number';

DO $$
DECLARE ns text;
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
  EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): run search scans', SQLERRM;
  END;
  SELECT extnamespace::regnamespace::text INTO ns FROM pg_extension WHERE extname = 'pg_trgm';
  IF ns IS NOT NULL THEN
    EXECUTE format('CREATE INDEX runs_name_trgm_idx ON runs USING gin (name %I.gin_trgm_ops)', ns);
    EXECUTE format('CREATE INDEX runs_method_trgm_idx ON runs USING gin (method %I.gin_trgm_ops)', ns);
    EXECUTE format('CREATE INDEX runs_notes_trgm_idx ON runs USING gin (notes %I.gin_trgm_ops)', ns);
  END IF;
END $$;
`;
