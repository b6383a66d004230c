/**
 * Rows in PostgreSQL's binary COPY format (https://www.postgresql.org/docs/current/sql-copy.html,
 * "Binary Format"): what the append path hands PGlite's `COPY ... FROM '/dev/blob'` for new points
 * and new level blocks. Numbers go as their binary representation, so nothing is printed here or
 * parsed there.
 */
import type { KeyPoints, StepLevelColumns } from "./series-levels.js";

/** Target of the points COPY: the columns in the order each tuple carries them. */
export const POINTS_COPY_TARGET = "metric_points (series_id, step, value, wall_time)";
/** Target of the step-level COPY. */
export const STEP_LEVELS_COPY_TARGET =
  "metric_levels (series_id, level, block, n, vmin, vmax, vsum, ssum, first_step, last_step, first_value, last_value)";

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00];
/** timestamptz counts microseconds from 2000-01-01T00:00:00Z. */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4294967296;

/** Appends tuples field by field; `finish()` returns the file (header, tuples, trailer). */
class BinaryCopy {
  private out: Uint8Array;
  private view: DataView;
  private o = SIGNATURE.length + 8; // flags and header extension length: both 0

  constructor(capacity: number) {
    this.out = new Uint8Array(Math.max(64, capacity));
    this.view = new DataView(this.out.buffer);
    this.out.set(SIGNATURE, 0);
  }

  private need(n: number): void {
    if (this.o + n <= this.out.length) return;
    const grown = new Uint8Array(Math.max(this.out.length * 2, this.o + n));
    grown.set(this.out.subarray(0, this.o));
    this.out = grown;
    this.view = new DataView(grown.buffer);
  }

  tuple(fields: number): void {
    this.need(2);
    this.view.setInt16(this.o, fields);
    this.o += 2;
  }

  int2(v: number): void {
    this.need(6);
    this.view.setInt32(this.o, 2);
    this.view.setInt16(this.o + 4, v);
    this.o += 6;
  }

  int4(v: number): void {
    this.need(8);
    this.view.setInt32(this.o, 4);
    this.view.setInt32(this.o + 4, v);
    this.o += 8;
  }

  /** A safe integer as int8 (two's complement words; floor gives the high word of a negative). */
  int8(v: number): void {
    this.need(12);
    this.view.setInt32(this.o, 8);
    this.view.setInt32(this.o + 4, Math.floor(v / TWO_32));
    this.view.setUint32(this.o + 8, v >>> 0);
    this.o += 12;
  }

  /** -0 goes as 0, as it does through text parameters (JSON and String() drop the sign). */
  float8(v: number): void {
    this.need(12);
    this.view.setInt32(this.o, 8);
    this.view.setFloat64(this.o + 4, v === 0 ? 0 : v);
    this.o += 12;
  }

  finish(): Uint8Array {
    this.need(2);
    this.view.setInt16(this.o, -1);
    return this.out.subarray(0, this.o + 2);
  }
}

/**
 * One tuple per point: series_id int4, step int8, value float8, wall_time timestamptz.
 * Null when a wall time is too far from 2000 for its microseconds to be exact in a JS number
 * (beyond the year 2255 or so); the caller then inserts by parameters instead.
 */
export function pointsCopyData(batch: readonly KeyPoints[]): Uint8Array | null {
  let count = 0;
  for (const b of batch) count += b.steps.length;
  const copy = new BinaryCopy(count * (2 + 8 + 3 * 12));
  for (const b of batch) {
    for (let j = 0; j < b.steps.length; j++) {
      const us = (b.ms[j] - PG_EPOCH_MS) * 1000;
      if (!Number.isSafeInteger(us)) return null;
      copy.tuple(4);
      copy.int4(b.series);
      copy.int8(b.steps[j]);
      copy.float8(b.values[j]);
      copy.int8(us);
    }
  }
  return copy.finish();
}

/** One tuple per level row (STEP_LEVELS_COPY_TARGET's columns). */
export function stepLevelsCopyData(c: StepLevelColumns): Uint8Array {
  const copy = new BinaryCopy(c.level.length * (2 + 8 + 6 + 8 + 10 * 12));
  for (let i = 0; i < c.level.length; i++) {
    copy.tuple(12);
    copy.int4(c.series[i]);
    copy.int2(c.level[i]);
    copy.int8(c.block[i]);
    copy.int4(c.n[i]);
    copy.float8(c.vmin[i]);
    copy.float8(c.vmax[i]);
    copy.float8(c.vsum[i]);
    copy.float8(c.ssum[i]);
    copy.int8(c.firstStep[i]);
    copy.int8(c.lastStep[i]);
    copy.float8(c.firstValue[i]);
    copy.float8(c.lastValue[i]);
  }
  return copy.finish();
}
