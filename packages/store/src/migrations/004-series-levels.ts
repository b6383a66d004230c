/**
 * Multi-resolution series ("pyramid levels"). For each (run, key) and level l = 1..5 the table
 * holds one row per block of 16^l steps (16, 256, 4,096, 65,536, 1,048,576) that has points: count, min, max,
 * sum of values and of steps, and the first and last point. The store rewrites the blocks a batch
 * touches in the same transaction as the points (from the points / the level below, so a re-sent
 * batch changes nothing), and readSeries reads whole blocks instead of every point: a chart of a
 * 10M-point series reads a few thousand level rows plus the ragged range edges. This migration
 * builds the levels of the points already stored.
 */
export const sql = `
CREATE TABLE metric_levels (
  run_id       text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  key          text NOT NULL,
  level        smallint NOT NULL CHECK (level BETWEEN 1 AND 5),
  block        bigint NOT NULL CHECK (block >= 0),
  n            integer NOT NULL CHECK (n > 0),
  vmin         double precision NOT NULL,
  vmax         double precision NOT NULL,
  vsum         double precision NOT NULL,
  ssum         double precision NOT NULL,
  first_step   bigint NOT NULL,
  last_step    bigint NOT NULL,
  first_value  double precision NOT NULL,
  last_value   double precision NOT NULL,
  PRIMARY KEY (run_id, key, level, block)
);
INSERT INTO metric_levels
SELECT run_id, key, 1, step / 16, count(*), min(value), max(value), sum(value), sum(step)::float8,
       min(step), max(step), (min(ARRAY[step::float8, value]))[2], (max(ARRAY[step::float8, value]))[2]
FROM metric_points GROUP BY run_id, key, step / 16;
INSERT INTO metric_levels
SELECT run_id, key, 2, block / 16, sum(n), min(vmin), max(vmax), sum(vsum), sum(ssum), min(first_step),
       max(last_step), (min(ARRAY[first_step::float8, first_value]))[2], (max(ARRAY[last_step::float8, last_value]))[2]
FROM metric_levels WHERE level = 1 GROUP BY run_id, key, block / 16;
INSERT INTO metric_levels
SELECT run_id, key, 3, block / 16, sum(n), min(vmin), max(vmax), sum(vsum), sum(ssum), min(first_step),
       max(last_step), (min(ARRAY[first_step::float8, first_value]))[2], (max(ARRAY[last_step::float8, last_value]))[2]
FROM metric_levels WHERE level = 2 GROUP BY run_id, key, block / 16;
INSERT INTO metric_levels
SELECT run_id, key, 4, block / 16, sum(n), min(vmin), max(vmax), sum(vsum), sum(ssum), min(first_step),
       max(last_step), (min(ARRAY[first_step::float8, first_value]))[2], (max(ARRAY[last_step::float8, last_value]))[2]
FROM metric_levels WHERE level = 3 GROUP BY run_id, key, block / 16;
INSERT INTO metric_levels
SELECT run_id, key, 5, block / 16, sum(n), min(vmin), max(vmax), sum(vsum), sum(ssum), min(first_step),
       max(last_step), (min(ARRAY[first_step::float8, first_value]))[2], (max(ARRAY[last_step::float8, last_value]))[2]
FROM metric_levels WHERE level = 4 GROUP BY run_id, key, block / 16;
`;
