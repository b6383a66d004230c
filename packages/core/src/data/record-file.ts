/**
 * Fixed-size records in a binary file, read by offset through an open descriptor (the CIFAR-10, CIFAR-100
 * and STL-10 loaders): opened and checked at load (exists, a whole number of records, labels in
 * range), so a truncated or wrong file fails at once with its name, never mid-training.
 */
import { closeSync, fstatSync, openSync, read, readSync } from "node:fs";
import { promisify } from "node:util";
import { DatasetError } from "./split.js";

const readAt = promisify(read);

export interface RecordFile {
  path: string;
  fd: number;
  records: number;
  recordBytes: number;
}

/**
 * Opens `path` as records of `recordBytes`; `what` names the dataset and the format in errors,
 * `missing` says what files were expected.
 */
export function openRecords(
  what: string,
  path: string,
  recordBytes: number,
  describe: string,
  missing: string,
): RecordFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetError(
      code === "ENOENT"
        ? `${what}: ${path} does not exist; ${missing}`
        : `${what}: cannot open ${path}: ${(err as Error).message}`,
    );
  }
  const size = fstatSync(fd).size;
  if (size === 0 || size % recordBytes !== 0) {
    closeSync(fd);
    const whole = Math.floor(size / recordBytes);
    throw new DatasetError(
      `${what}: ${path} is ${size} bytes, not a whole number of ${recordBytes}-byte records (${describe}): ` +
        (size === 0
          ? "the file is empty"
          : `${whole} records and ${size - whole * recordBytes} stray bytes; the file is truncated or not in this format`),
    );
  }
  return { path, fd, records: size / recordBytes, recordBytes };
}

/**
 * Reads the whole file in chunks and calls `check(record, bytes)` for each record's first
 * `prefix` bytes (its labels); `check` returns an error message or undefined.
 */
export function scanRecords(
  file: RecordFile,
  prefix: number,
  check: (record: number, head: Uint8Array) => string | undefined,
): void {
  const perChunk = Math.max(1, Math.floor((4 << 20) / file.recordBytes));
  const buf = Buffer.alloc(perChunk * file.recordBytes);
  for (let first = 0; first < file.records; first += perChunk) {
    const n = Math.min(perChunk, file.records - first);
    const bytes = n * file.recordBytes;
    let got = 0;
    while (got < bytes) {
      const r = readSync(file.fd, buf, got, bytes - got, first * file.recordBytes + got);
      if (r === 0) break;
      got += r;
    }
    if (got !== bytes)
      throw new DatasetError(`${file.path}: could only read ${got} of ${bytes} bytes at record ${first}`);
    for (let i = 0; i < n; i++) {
      const problem = check(first + i, buf.subarray(i * file.recordBytes, i * file.recordBytes + prefix));
      if (problem) throw new DatasetError(`${file.path}: record ${first + i} ${problem}`);
    }
  }
}

/** Record `i` of `file` (`length` bytes from `offset` within it), checked for a short read. */
export async function readRecord(
  what: string,
  file: RecordFile,
  i: number,
  offset = 0,
  length = file.recordBytes,
): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  const { bytesRead } = await readAt(file.fd, buf, 0, length, i * file.recordBytes + offset);
  if (bytesRead !== length) {
    throw new DatasetError(
      `${what}: ${file.path}: record ${i} is cut short (${bytesRead} of ${length} bytes); did the file change?`,
    );
  }
  return buf;
}

/** Planar CHW bytes (`rowMajor`: row by row, else column by column, as STL-10) -> HWC floats in [0,1]. */
export function planarToHwc(
  bytes: Uint8Array,
  h: number,
  w: number,
  c: number,
  rowMajor: boolean,
): Float32Array {
  const out = new Float32Array(h * w * c);
  const plane = h * w;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const src = rowMajor ? y * w + x : x * h + y;
      const dst = (y * w + x) * c;
      for (let k = 0; k < c; k++) out[dst + k] = bytes[k * plane + src]! / 255;
    }
  }
  return out;
}
