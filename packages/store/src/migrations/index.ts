import { sql as runs } from "./001-runs.js";
import { sql as metrics } from "./002-metrics.js";
import { sql as results } from "./003-results.js";
import { sql as seriesLevels } from "./004-series-levels.js";
import { sql as runsAtScale } from "./005-runs-at-scale.js";
import { sql as seriesWrites } from "./006-series-writes.js";
import { sql as runsCount } from "./007-runs-count.js";
import { sql as seriesIds } from "./008-series-ids.js";
import { sql as sweeps } from "./009-sweeps.js";

/** One schema change. `id` is the NNN of its file; ids only grow and a released one never changes. */
export interface Migration {
  readonly id: number;
  readonly name: string;
  readonly sql: string;
}

/** All migrations in order. To change the schema, add a file NNN-name.ts and list it here. */
export const migrations: readonly Migration[] = [
  { id: 1, name: "runs", sql: runs },
  { id: 2, name: "metrics", sql: metrics },
  { id: 3, name: "results", sql: results },
  { id: 4, name: "series-levels", sql: seriesLevels },
  { id: 5, name: "runs-at-scale", sql: runsAtScale },
  { id: 6, name: "series-writes", sql: seriesWrites },
  { id: 7, name: "runs-count", sql: runsCount },
  { id: 8, name: "series-ids", sql: seriesIds },
  { id: 9, name: "sweeps", sql: sweeps },
];
