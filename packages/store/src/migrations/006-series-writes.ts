/**
 * Series writes at 100k points/s, and pyramid levels for the wall-time axes.
 *
 * - metric_points and metric_levels lose their foreign key to runs: checking it cost more than
 *   the insert itself (one lookup in runs per row). The store checks the run once per batch (and
 *   locks it against deletion for the batch's transaction, FOR KEY SHARE, as the key would), and
 *   triggers on runs delete a run's points and levels with it (row deletes) or empty the tables
 *   (TRUNCATE runs), so nothing is left behind whichever way a run goes.
 * - metric_time_levels: for each (run, key) and level l = 1..7 one row per wall-time block of
 *   1,000 * 16^(l-1) ms (1 s up to 194 days) that has points: count, min, max, sum of values and
 *   of times (ms), first and last time, the step range of its points (smin..smax, how a raw read
 *   of the block finds its points through the primary key), and the value of the last point by
 *   (time, step). readSeries on the wall_time and relative_time axes reads these blocks like the
 *   step axis reads metric_levels. Times are whole milliseconds: round(epoch * 1000).
 * This migration builds the time levels of the points already stored.
 */
const TIME_COLUMNS =
  "run_id, key, level, block, n, vmin, vmax, vsum, tsum, tmin, tmax, smin, smax, last_value";

function upperLevel(level: number): string {
  return `INSERT INTO metric_time_levels (${TIME_COLUMNS})
SELECT run_id, key, ${level}, block >> 4, sum(n), min(vmin), max(vmax), sum(vsum), sum(tsum), min(tmin), max(tmax),
       min(smin), max(smax), (max(ARRAY[tmax, smax::float8, last_value]))[3]
FROM metric_time_levels WHERE level = ${level - 1} GROUP BY run_id, key, block >> 4;`;
}

export const sql = `
ALTER TABLE metric_points DROP CONSTRAINT IF EXISTS metric_points_run_id_fkey;
ALTER TABLE metric_levels DROP CONSTRAINT IF EXISTS metric_levels_run_id_fkey;

CREATE TABLE metric_time_levels (
  run_id      text NOT NULL,
  key         text NOT NULL,
  level       smallint NOT NULL CHECK (level BETWEEN 1 AND 7),
  block       bigint NOT NULL,
  n           integer NOT NULL CHECK (n > 0),
  vmin        double precision NOT NULL,
  vmax        double precision NOT NULL,
  vsum        double precision NOT NULL,
  tsum        double precision NOT NULL,
  tmin        double precision NOT NULL,
  tmax        double precision NOT NULL,
  smin        bigint NOT NULL,
  smax        bigint NOT NULL,
  last_value  double precision NOT NULL,
  PRIMARY KEY (run_id, key, level, block)
);

CREATE FUNCTION runs_delete_series() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM metric_points p USING gone WHERE p.run_id = gone.id;
  DELETE FROM metric_levels l USING gone WHERE l.run_id = gone.id;
  DELETE FROM metric_time_levels l USING gone WHERE l.run_id = gone.id;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_delete_series AFTER DELETE ON runs REFERENCING OLD TABLE AS gone
  FOR EACH STATEMENT EXECUTE FUNCTION runs_delete_series();

CREATE FUNCTION runs_truncate_series() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE metric_points, metric_levels, metric_time_levels;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_truncate_series AFTER TRUNCATE ON runs
  FOR EACH STATEMENT EXECUTE FUNCTION runs_truncate_series();

INSERT INTO metric_time_levels (${TIME_COLUMNS})
SELECT run_id, key, 1, floor(tm / 1000)::bigint, count(*), min(value), max(value), sum(value), sum(tm), min(tm), max(tm),
       min(step), max(step), (max(ARRAY[tm, step::float8, value]))[3]
FROM (SELECT run_id, key, step, value, round(date_part('epoch', wall_time) * 1000) AS tm FROM metric_points) AS p
GROUP BY run_id, key, floor(tm / 1000)::bigint;
${[2, 3, 4, 5, 6, 7].map(upperLevel).join("\n")}
`;
