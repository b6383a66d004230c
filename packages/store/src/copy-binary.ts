/**
 * Metric points in PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html,
 * "Binary Format"): what the append path hands PGlite's `COPY ... FROM '/dev/blob'`. Numbers go as
 * their binary representation, so nothing is printed here or parsed there.
 */
import type { KeyPoints } from "./series-levels.js";

/** Target of the COPY: the columns in the order each tuple carries them. */
export const POINTS_COPY_TARGET = "metric_points (run_id, key, step, value, wall_time)";

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];
/** timestamptz counts microseconds from 2000-01-01T00:00:00Z. */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4294967296;
const encoder = new TextEncoder();

/**
 * One tuple per point: run_id text, key text, step int8, value float8, wall_time timestamptz.
 * Null when a wall time is too far from 2000 for microseconds to be exact in a JS number (beyond
 * year 2255 or so); the caller then inserts by parameters instead.
 */
export function pointsCopyData(runId: string, batch: readonly KeyPoints[]): Uint8Array | null {
  const run = encoder.encode(runId);
  let size = SIGNATURE.length + 8 + 2;
  const keys = batch.map((b) => encoder.encode(b.key));
  for (const [i, b] of batch.entries()) size += b.steps.length * (2 + 4 + run.length + 4 + keys[i].length + 3 * 12);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE, 0);
  let o = SIGNATURE.length + 8; // flags and header extension length: both 0
  for (const [i, b] of batch.entries()) {
    const key = keys[i];
    for (let j = 0; j < b.steps.length; j++) {
      const us = (b.ms[j] - PG_EPOCH_MS) * 1000;
      if (!Number.isSafeInteger(us)) return null;
      view.setInt16(o, 5);
      view.setInt32(o + 2, run.length);
      out.set(run, o + 6);
      o += 6 + run.length;
      view.setInt32(o, key.length);
      out.set(key, o + 4);
      o += 4 + key.length;
      const step = b.steps[j];
      view.setInt32(o, 8);
      view.setInt32(o + 4, Math.floor(step / TWO_32));
      view.setUint32(o + 8, step >>> 0);
      view.setInt32(o + 12, 8);
      view.setFloat64(o + 16, b.values[j]);
      view.setInt32(o + 24, 8);
      view.setInt32(o + 28, Math.floor(us / TWO_32));
      view.setUint32(o + 32, us >>> 0);
      o += 36;
    }
  }
  view.setInt16(o, -1); // trailer
  return out.subarray(0, o + 2);
}
