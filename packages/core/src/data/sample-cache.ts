/**
 * The packed sample cache: a dataset's decoded, resized samples as uint8 records of one size in one
 * file under `$SELFSUP_HOME/cache/` (default `./.selfsup/cache`, as the runner's home), so later epochs and later runs
 * read bytes instead of decoding images.
 *
 * File layout (little-endian):
 *
 *   [0, 4096)          header: "SELFSUPC" | u32 version | u32 json length | JSON meta (key, source,
 *                      count, record bytes, sample shape, created)
 *   [4096, +N*R)       N records of R bytes, record i at 4096 + i*R
 *   then N x u32       CRC-32 of each record
 *   then N x u8        state of each record: 1 a sample, 2 a bad file (no sample; see meta.bad)
 *   then 16 bytes      trailer: "SELFSUPE" | u32 N | u32 CRC-32 of the CRC and state tables
 *
 * A cache is written as `<name>.partial-<pid>-<n>` (records land in any order as they are decoded)
 * and renamed to `<name>.cache` only once every record is in and synced, so a finished name never
 * holds a torn file. Opening checks the size, header, key and trailer; each record's CRC is checked
 * once per load (in memory: the first time it is read; streamed: every time its chunk is read from
 * disk). Anything that does not match is reported, deleted and rebuilt, never trusted.
 *
 * Reads: the whole file in memory when it fits `memoryBudget` (records copied straight into the
 * batch), else by chunks of consecutive records (`readChunk`: one sequential read of about 1 MiB),
 * so memory stays bounded whatever the dataset's size; `read` is one positioned read of one record.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, read } from "node:fs";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { DatasetError } from "./split.js";

export const CACHE_VERSION = 1;
export const CACHE_HEADER_BYTES = 4096;
const TRAILER_BYTES = 16;
const MAGIC = Buffer.from("SELFSUPC");
const END = Buffer.from("SELFSUPE");

export const RECORD_OK = 1;
export const RECORD_BAD = 2;

/** What a cache file says about itself (its header). */
export interface CacheMeta {
  /** Hash of everything the samples depend on (file list, sizes, mtimes, resize options). */
  key: string;
  /** Where the samples come from (a folder), for `selfsup cache ls`. */
  source: string;
  /** The dataset that wrote it, e.g. "image-folder". */
  kind: string;
  count: number;
  recordBytes: number;
  /** Sample shape [H, W, C] of each record. */
  shape: [number, number, number];
  /** Resize mode and anything else that shaped the samples. */
  options: Record<string, unknown>;
  created: string;
  /** Files with no sample (skipBad): index, file and reason. */
  bad?: Array<{ index: number; file: string; reason: string }>;
}

/** `$SELFSUP_HOME/cache` (SELFSUP_HOME defaults to `./.selfsup`, as the runner's). */
export function cacheDir(): string {
  return join(resolve(process.env.SELFSUP_HOME?.trim() || ".selfsup"), "cache");
}

/** A stable hash of a JSON-able value. */
export function cacheKey(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

function fileSize(count: number, recordBytes: number): number {
  return CACHE_HEADER_BYTES + count * recordBytes + count * 5 + TRAILER_BYTES;
}

function encodeHeader(meta: CacheMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta));
  const header = Buffer.alloc(CACHE_HEADER_BYTES);
  if (16 + json.length > CACHE_HEADER_BYTES) {
    // a long bad-file list: keep the header's fixed size, cut the list (it is informative only)
    const { bad, ...rest } = meta;
    return encodeHeader({ ...rest, bad: (bad ?? []).slice(0, 10) });
  }
  MAGIC.copy(header, 0);
  header.writeUInt32LE(CACHE_VERSION, 8);
  header.writeUInt32LE(json.length, 12);
  json.copy(header, 16);
  return header;
}

function decodeHeader(buf: Buffer): CacheMeta | string {
  if (buf.length < 16 || !buf.subarray(0, 8).equals(MAGIC)) return "no cache header (bad magic)";
  const version = buf.readUInt32LE(8);
  if (version !== CACHE_VERSION) return `cache version ${version}, this selfsup writes ${CACHE_VERSION}`;
  const len = buf.readUInt32LE(12);
  if (16 + len > buf.length) return "header length out of range";
  try {
    return JSON.parse(buf.subarray(16, 16 + len).toString("utf8")) as CacheMeta;
  } catch {
    return "header JSON unreadable";
  }
}

/** Why `path` is not a whole cache file for `key`, or its meta when it is. */
async function checkCacheFile(path: string, key?: string): Promise<CacheMeta | string> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (err) {
    return `cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  try {
    const size = (await fh.stat()).size;
    if (size < CACHE_HEADER_BYTES + TRAILER_BYTES) return `only ${size} bytes`;
    const head = Buffer.alloc(CACHE_HEADER_BYTES);
    await fh.read(head, 0, CACHE_HEADER_BYTES, 0);
    const meta = decodeHeader(head);
    if (typeof meta === "string") return meta;
    if (key !== undefined && meta.key !== key) return "written for other files or options";
    const want = fileSize(meta.count, meta.recordBytes);
    if (size !== want)
      return `${size} bytes where ${meta.count} records of ${meta.recordBytes} bytes make ${want} (torn)`;
    const tables = Buffer.alloc(meta.count * 5 + TRAILER_BYTES);
    await fh.read(tables, 0, tables.length, CACHE_HEADER_BYTES + meta.count * meta.recordBytes);
    const trailer = tables.subarray(meta.count * 5);
    if (!trailer.subarray(0, 8).equals(END) || trailer.readUInt32LE(8) !== meta.count)
      return "no trailer (torn)";
    if (trailer.readUInt32LE(12) !== crc32(tables.subarray(0, meta.count * 5)))
      return "its record table fails its checksum (torn)";
    return meta;
  } finally {
    await fh.close();
  }
}

/** A finished cache file, read by record. */
export class CacheReader {
  private readonly crcs: Uint32Array;
  private readonly states: Uint8Array;
  /** Records of an in-memory cache whose CRC was checked. */
  private readonly verified: Uint8Array;
  private fd: number | undefined;
  private readonly all: Buffer | undefined;
  /** The records of an in-memory cache, as a plain Uint8Array (one shape for the copy loop). */
  private readonly records: Uint8Array | undefined;

  private constructor(
    readonly path: string,
    readonly meta: CacheMeta,
    tables: Buffer,
    fd: number | undefined,
    all: Buffer | undefined,
  ) {
    this.crcs = new Uint32Array(meta.count);
    for (let i = 0; i < meta.count; i++) this.crcs[i] = tables.readUInt32LE(i * 4);
    this.states = new Uint8Array(tables.subarray(meta.count * 4, meta.count * 5));
    this.verified = new Uint8Array(meta.count);
    this.fd = fd;
    this.all = all;
    this.records = all
      ? new Uint8Array(all.buffer, all.byteOffset + CACHE_HEADER_BYTES, meta.count * meta.recordBytes)
      : undefined;
  }

  /**
   * Opens `path` when it is a whole cache for `key`; a file that is there but torn or stale is
   * deleted and `onBad` told why. Loads it into memory when its records fit `memoryBudget` bytes.
   */
  static async open(
    path: string,
    key: string,
    memoryBudget: number,
    onBad?: (why: string) => void,
  ): Promise<CacheReader | undefined> {
    const exists = await stat(path).catch(() => undefined);
    if (!exists) return undefined;
    const meta = await checkCacheFile(path, key);
    if (typeof meta === "string") {
      onBad?.(`sample cache ${path} is not usable (${meta}); rebuilding it`);
      await rm(path, { force: true });
      return undefined;
    }
    const tablesAt = CACHE_HEADER_BYTES + meta.count * meta.recordBytes;
    const recordsBytes = meta.count * meta.recordBytes;
    if (recordsBytes <= memoryBudget) {
      const file = await readFile(path);
      return new CacheReader(path, meta, file.subarray(tablesAt, tablesAt + meta.count * 5), undefined, file);
    }
    const fd = openSync(path, "r");
    const tables = Buffer.alloc(meta.count * 5);
    await readAt(fd, tables, tablesAt);
    return new CacheReader(path, meta, tables, fd, undefined);
  }

  /** True when the records are held in memory (the file fit the budget). */
  get inMemory(): boolean {
    return this.all !== undefined;
  }

  state(i: number): number {
    return this.states[i]!;
  }

  /**
   * Record `i` of a cache held in memory (`inMemory`), CRC-checked the first time it is read
   * (memory does not tear); undefined when the check fails or the cache is not in memory.
   */
  memoryRecord(i: number): Uint8Array | undefined {
    if (!this.all) return undefined;
    const n = this.meta.recordBytes;
    const at = CACHE_HEADER_BYTES + i * n;
    const rec = this.all.subarray(at, at + n);
    if (this.verified[i]) return rec;
    if (crc32(rec) !== this.crcs[i]) return undefined;
    this.verified[i] = 1;
    return rec;
  }

  /**
   * Copies the records `indices` of an in-memory cache into `out` (record k at k * recordBytes),
   * each CRC-checked the first time this load reads it. Returns the positions k it did not fill: a
   * bad file's record, or one that fails its check (the caller drops the cache). Nothing is copied
   * when the cache is not in memory (every position is returned).
   */
  copyInto(indices: readonly number[], out: Uint8Array): number[] {
    const records = this.records;
    const missed: number[] = [];
    if (!records) {
      for (let k = 0; k < indices.length; k++) missed.push(k);
      return missed;
    }
    const n = this.meta.recordBytes;
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      if (this.states[i] !== RECORD_OK) {
        missed.push(k);
        continue;
      }
      const rec = records.subarray(i * n, (i + 1) * n);
      if (!this.verified[i]) {
        if (crc32(rec) !== this.crcs[i]) {
          missed.push(k);
          continue;
        }
        this.verified[i] = 1;
      }
      out.set(rec, k * n);
    }
    return missed;
  }

  /**
   * Records [first, first + count) in one sequential read, each CRC-checked; undefined when the read
   * comes up short or a good record fails its check (the file is bad). A bad file's record (state
   * RECORD_BAD) is left as it is, unchecked.
   */
  async readChunk(first: number, count: number): Promise<Uint8Array | undefined> {
    if (this.fd === undefined) throw new DatasetError(`sample cache ${this.path} was closed`);
    const n = this.meta.recordBytes;
    const buf = new Uint8Array(count * n);
    const { bytesRead } = await readAt(this.fd, buf, CACHE_HEADER_BYTES + first * n);
    if (bytesRead !== buf.length) return undefined;
    for (let r = 0; r < count; r++) {
      const i = first + r;
      if (this.states[i] === RECORD_OK && crc32(buf.subarray(r * n, (r + 1) * n)) !== this.crcs[i])
        return undefined;
    }
    return buf;
  }

  /** Record `i`'s bytes, CRC-checked; undefined when the check fails (the file is bad). */
  async read(i: number): Promise<Uint8Array | undefined> {
    if (this.all) return this.memoryRecord(i);
    const n = this.meta.recordBytes;
    const at = CACHE_HEADER_BYTES + i * n;
    if (this.fd === undefined) throw new DatasetError(`sample cache ${this.path} was closed`);
    const buf = Buffer.allocUnsafe(n);
    const { bytesRead } = await readAt(this.fd, buf, at);
    if (bytesRead !== n) return undefined;
    return crc32(buf) === this.crcs[i] ? buf : undefined;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function readAt(fd: number, buf: Uint8Array, position: number): Promise<{ bytesRead: number }> {
  return new Promise((resolve, reject) => {
    read(fd, buf, 0, buf.length, position, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead })));
  });
}

/** A cache being written: records arrive in any order; `finish()` makes it a cache file. */
export class CacheWriter {
  private readonly crcs: Uint32Array;
  readonly states: Uint8Array;
  private filled = 0;
  private finished = false;
  private readonly writes = new Set<Promise<unknown>>();

  private constructor(
    readonly path: string,
    readonly tmpPath: string,
    readonly meta: CacheMeta,
    private fh: FileHandle,
  ) {
    this.crcs = new Uint32Array(meta.count);
    this.states = new Uint8Array(meta.count);
  }

  static async create(path: string, meta: CacheMeta): Promise<CacheWriter> {
    await mkdir(join(path, ".."), { recursive: true });
    const tmpPath = `${path}.partial-${process.pid}-${randomBytes(3).toString("hex")}`;
    const fh = await open(tmpPath, "w+");
    await fh.truncate(fileSize(meta.count, meta.recordBytes));
    return new CacheWriter(path, tmpPath, meta, fh);
  }

  get complete(): boolean {
    return this.filled === this.meta.count;
  }

  get count(): number {
    return this.filled;
  }

  has(i: number): boolean {
    return this.states[i] !== 0;
  }

  /** Stores record `i` (its bytes) or marks it bad (undefined). */
  put(i: number, data: Uint8Array | undefined): void {
    if (this.finished || this.states[i] !== 0) return;
    if (data !== undefined && data.length !== this.meta.recordBytes)
      throw new DatasetError(
        `sample cache: record ${i} has ${data.length} bytes, expected ${this.meta.recordBytes}`,
      );
    this.states[i] = data ? RECORD_OK : RECORD_BAD;
    this.filled++;
    if (data) {
      this.crcs[i] = crc32(data);
      const w = this.fh.write(data, 0, data.length, CACHE_HEADER_BYTES + i * this.meta.recordBytes);
      this.writes.add(w);
      void w.then(
        () => this.writes.delete(w),
        () => this.writes.delete(w),
      );
    }
  }

  /** Record `i` as written so far (after its write landed). */
  async read(i: number): Promise<Uint8Array | undefined> {
    if (this.states[i] !== RECORD_OK) return undefined;
    await Promise.all(this.writes);
    const n = this.meta.recordBytes;
    const buf = Buffer.allocUnsafe(n);
    const { bytesRead } = await this.fh.read(buf, 0, n, CACHE_HEADER_BYTES + i * n);
    return bytesRead === n && crc32(buf) === this.crcs[i] ? buf : undefined;
  }

  /** Writes the tables, syncs, and renames the file into place. */
  async finish(bad: CacheMeta["bad"]): Promise<void> {
    if (!this.complete)
      throw new DatasetError(`sample cache: ${this.filled} of ${this.meta.count} records written`);
    this.finished = true;
    await Promise.all(this.writes);
    const n = this.meta.count;
    const tables = Buffer.alloc(n * 5 + TRAILER_BYTES);
    for (let i = 0; i < n; i++) tables.writeUInt32LE(this.crcs[i]!, i * 4);
    tables.set(this.states, n * 4);
    END.copy(tables, n * 5);
    tables.writeUInt32LE(n, n * 5 + 8);
    tables.writeUInt32LE(crc32(tables.subarray(0, n * 5)), n * 5 + 12);
    await this.fh.write(
      encodeHeader({ ...this.meta, ...(bad && bad.length > 0 ? { bad } : {}) }),
      0,
      CACHE_HEADER_BYTES,
      0,
    );
    await this.fh.write(tables, 0, tables.length, CACHE_HEADER_BYTES + n * this.meta.recordBytes);
    await this.fh.sync();
    await this.fh.close();
    await rename(this.tmpPath, this.path);
    try {
      const dir = openSync(join(this.path, ".."), "r");
      fsyncSync(dir);
      closeSync(dir);
    } catch {
      // some filesystems refuse a directory fsync; the rename itself is atomic
    }
  }

  /** Drops the partial file. */
  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await Promise.all(this.writes).catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    await rm(this.tmpPath, { force: true });
  }
}

/** One entry of `listCaches`. */
export interface CacheEntry {
  path: string;
  name: string;
  bytes: number;
  /** Header meta, or why the file is not a usable cache. */
  meta?: CacheMeta;
  problem?: string;
  /** A partial file (a build in progress, or one a killed run left). */
  partial: boolean;
  modified: Date;
}

/** The cache files under `dir` (default `cacheDir()`), checked. */
export async function listCaches(dir = cacheDir()): Promise<CacheEntry[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: CacheEntry[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) continue;
    const partial = name.includes(".partial-");
    if (!partial && !name.endsWith(".cache")) continue;
    const checked = partial ? "partial (being written, or left by a killed run)" : await checkCacheFile(path);
    out.push({
      path,
      name,
      bytes: info.size,
      partial,
      modified: info.mtime,
      ...(typeof checked === "string" ? { problem: checked } : { meta: checked }),
    });
  }
  return out;
}
