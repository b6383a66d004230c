/**
 * The image-folder split with `decoder: "sharp"`: samples come from the packed cache when it is
 * built, else from the decode pool (which also fills the cache). See image-folder.ts for the whole
 * story; this file is the per-split machinery.
 *
 * Order of a read of sample i:
 *   1. a finished cache: its record (CRC-checked; a bad CRC drops the cache and decodes again);
 *   2. the cache being written: the record, if it is in;
 *   3. a decode already in flight for i (the background fill's, or another batch's): wait for it;
 *   4. a decode on the pool at "now" priority; its bytes go into the cache being written.
 * The background fill (started by the first `getBatch`, i.e. by training) decodes the files in file
 * order at "later" priority, so the cache finishes during the first epoch even when that epoch (or
 * `--limit`) does not visit every file. Single reads (`get`: a preview, an evaluation) decode only
 * what they ask for, and still add it to the cache being written.
 *
 * Determinism: a sample's bytes are a function of its file and the resize options only (sharp does
 * the same work on any thread), so batches are the same bit for bit whatever the number of workers,
 * the order jobs finish in, or whether they came from the cache.
 *
 * The warm path (`getBatch` on a finished cache): the batch's records are copied into one uint8
 * block (from memory, or from chunks of ~1 MiB read sequentially when the cache is streamed) and
 * turned into floats in one pass. A cache too large for memory is read in a quasi-random order
 * (`epochOrder`, as FFCV's for data past RAM): the chunks are shuffled, then the samples within each
 * window of `shuffleWindowMB` of chunks, so each chunk is read once per epoch and a few windows'
 * chunks are held at a time. The order is a function of the seed and epoch only, so a resumed run
 * replays it exactly.
 */
import { rm } from "node:fs/promises";
import type { InputSpec, Sample } from "../plugin/types.js";
import type { Rng } from "../rng.js";
import type { DecodePool } from "./decode-pool.js";
import { type ResizeMode, resizeToFloat } from "./image-decode.js";
import type { FileStamp, ImageFolderEntry, SkippedFile } from "./image-folder-types.js";
import {
  type CacheMeta,
  CacheReader,
  CacheWriter,
  cacheKey,
  listCaches,
  RECORD_BAD,
  RECORD_OK,
} from "./sample-cache.js";
import {
  type BatchData,
  type BatchSplit,
  checkIndex,
  DatasetError,
  type ShapedSplit,
  unitFloats,
} from "./split.js";

/** What the splits of one dataset share. */
export interface PooledContext {
  pool: DecodePool;
  skipBad: boolean;
  /** Files left out or replaced (grows while training finds more). */
  skipped: SkippedFile[];
  onSkip: Array<(s: SkippedFile) => void>;
  /** Things a user should know (a torn cache rebuilt); printed to stderr when nobody listens. */
  note: (message: string) => void;
  /** Cache folder, or undefined for no cache. */
  cacheDir: string | undefined;
  memoryBudget: number;
  prefetchBatches: number;
  /** Streamed caches: samples are shuffled within windows of this many bytes of chunks. */
  shuffleWindow: number;
}

/** A streamed cache is read in chunks of about this many bytes (at least one record). */
export const CHUNK_BYTES = 1 << 20;

/**
 * A permutation of [0, count) that reads chunk by chunk: the chunks (`chunkRecords` consecutive
 * indices each) in a shuffled order, the indices of each `windowChunks` consecutive chunks of that
 * order shuffled among themselves. Draws from `rng` only.
 */
export function quasiRandomOrder(
  rng: Rng,
  count: number,
  chunkRecords: number,
  windowChunks: number,
): number[] {
  const chunkOrder = rng.shuffle(Array.from({ length: Math.ceil(count / chunkRecords) }, (_, c) => c));
  const out: number[] = [];
  for (let w = 0; w < chunkOrder.length; w += windowChunks) {
    const part: number[] = [];
    for (const c of chunkOrder.slice(w, w + windowChunks))
      for (let i = c * chunkRecords; i < Math.min((c + 1) * chunkRecords, count); i++) part.push(i);
    for (const i of rng.shuffle(part)) out.push(i);
  }
  return out;
}

/** The cache file for a split: `<kind>-<folder name>-<key>.cache`. */
export function cacheFileName(source: string, key: string): string {
  const base = source.split(/[\\/]/).filter(Boolean).pop() ?? "root";
  return `image-folder-${base.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 40)}-${key.slice(0, 16)}.cache`;
}

/** The cache key of a split: every file (relative name, size, mtime), the shape and resize mode. */
export function folderCacheKey(
  root: string,
  entries: readonly ImageFolderEntry[],
  input: InputSpec & { kind: "image" },
  mode: ResizeMode,
): string {
  const files = entries.map((e) => {
    const stamp: FileStamp | undefined = e.stamp;
    const rel = e.file.startsWith(root) ? e.file.slice(root.length) : e.file;
    return [rel, stamp?.size ?? -1, stamp?.mtimeMs ?? -1];
  });
  return cacheKey({
    v: 1,
    kind: "image-folder",
    shape: [input.height, input.width, input.channels],
    mode,
    files,
  });
}

export class PooledFolderSplit implements ShapedSplit, BatchSplit {
  readonly size: number;
  readonly prefetchBatches: number;
  private readonly recordBytes: number;
  private readonly labelled: boolean;
  private reader: CacheReader | undefined;
  private writer: CacheWriter | undefined;
  private opening: Promise<void> | undefined;
  private finishing: Promise<void> | undefined;
  private filling = false;
  private closed = false;
  private readonly inflight = new Map<number, Promise<Uint8Array | undefined>>();
  /** Why each bad file (found while decoding) is bad. */
  private readonly bad = new Map<number, string>();
  private readonly key: string;
  private readonly cachePath: string | undefined;
  /** Records per chunk of a streamed cache. */
  private readonly chunkRecords: number;
  /** Chunks of a streamed cache read (or being read), oldest first; at most `chunkSlots`. */
  private readonly chunks = new Map<number, Promise<Uint8Array | undefined>>();
  /** The reader `chunks` were read from (a rebuilt cache starts with none). */
  private chunksOf: CacheReader | undefined;
  private readonly chunkSlots: number;

  /** Shape of the decoded (and cached) samples: `input`, or larger with `storeSize`. */
  readonly stored: InputSpec & { kind: "image" };

  constructor(
    private readonly what: string,
    readonly input: InputSpec & { kind: "image" },
    readonly entries: readonly ImageFolderEntry[],
    private readonly mode: ResizeMode,
    private readonly root: string,
    private readonly ctx: PooledContext,
    stored?: InputSpec & { kind: "image" },
  ) {
    this.stored = stored ?? input;
    this.size = entries.length;
    this.recordBytes = this.stored.height * this.stored.width * this.stored.channels;
    this.labelled = entries.length > 0 && entries.every((e) => e.label !== undefined);
    this.prefetchBatches = ctx.prefetchBatches;
    this.key = folderCacheKey(root, entries, this.stored, mode);
    this.cachePath = ctx.cacheDir ? `${ctx.cacheDir}/${cacheFileName(root, this.key)}` : undefined;
    this.chunkRecords = Math.max(1, Math.floor(CHUNK_BYTES / this.recordBytes));
    // two shuffle windows of chunks (the one being read and the next), and a few for the prefetch
    this.chunkSlots = 2 * this.windowChunks() + 4;
  }

  /** Chunks per shuffle window of a streamed cache. */
  private windowChunks(): number {
    return Math.max(1, Math.floor(this.ctx.shuffleWindow / (this.chunkRecords * this.recordBytes)));
  }

  /** True when the cache will be streamed (its records exceed the memory budget). */
  get streamed(): boolean {
    return this.cachePath !== undefined && this.size * this.recordBytes > this.ctx.memoryBudget;
  }

  /**
   * The shuffled order of an epoch over [0, count): a plain shuffle, or for a streamed cache the
   * quasi-random order its chunks read fast in (chunks shuffled, then samples within each window).
   */
  epochOrder(rng: Rng, count: number): number[] {
    if (!this.streamed) return rng.shuffle(Array.from({ length: count }, (_, i) => i));
    return quasiRandomOrder(rng, count, this.chunkRecords, this.windowChunks());
  }

  /** Where this split's cache lives (undefined: no cache). */
  get cacheFile(): string | undefined {
    return this.cachePath;
  }

  /** "memory" / "stream": read from a finished cache; "building": cache being written; "off". */
  get cacheState(): "memory" | "stream" | "building" | "off" {
    if (this.reader) return this.reader.inMemory ? "memory" : "stream";
    if (this.writer) return "building";
    return "off";
  }

  /** Resolves once the cache is finished (the background fill done); at once without a cache. */
  async whenCached(): Promise<void> {
    await this.open();
    this.startFill();
    while (this.writer || this.finishing) {
      if (this.finishing) await this.finishing;
      else await new Promise((r) => setTimeout(r, 20));
    }
  }

  async get(index: number): Promise<Sample> {
    checkIndex(this.what, index, this.size);
    const bytes = await this.sample(index);
    const data = this.larger ? this.toInputSize(bytes) : new Float32Array(this.recordBytes);
    if (!this.larger) unitFloats(bytes, data);
    const label = this.entries[index]!.label;
    return label !== undefined ? { data, label } : { data };
  }

  async getBatch(indices: readonly number[]): Promise<BatchData> {
    for (const i of indices) checkIndex(this.what, i, this.size);
    // batches are training: fill the cache in the background (single reads, a preview or an
    // evaluation, only decode what they ask for, so a short command never waits for a whole folder)
    await this.open();
    this.startFill();
    const n = this.recordBytes;
    const bytes = new Uint8Array(indices.length * n);
    // the warm path: the records of a finished cache copied into one block (from memory, or from
    // the chunks of a streamed cache); anything else (a bad file, a cache being built) per sample
    const reader = this.reader;
    let rest: number[];
    if (reader && !this.finishing && !this.closed) {
      rest = reader.inMemory
        ? reader.copyInto(indices, bytes)
        : await this.copyFromChunks(reader, indices, bytes);
    } else {
      rest = indices.map((_, k) => k);
    }
    const samples = await Promise.all(rest.map((k) => this.sample(indices[k]!)));
    for (let r = 0; r < rest.length; r++) bytes.set(samples[r]!, rest[r]! * n);
    const shape = this.larger
      ? ({ shape: [this.stored.height, this.stored.width, this.stored.channels] } as const)
      : {};
    if (!this.labelled) return { bytes, ...shape };
    return { bytes, labels: Int32Array.from(indices, (i) => this.entries[i]!.label!), ...shape };
  }

  /** True when samples are stored larger than the input (`storeSize`). */
  private get larger(): boolean {
    return this.stored.height !== this.input.height || this.stored.width !== this.input.width;
  }

  /** A stored sample resized to the input size (single reads: a preview, an evaluation), in JS. */
  private toInputSize(bytes: Uint8Array): Float32Array {
    const { height, width, channels } = this.stored;
    const rgba = new Uint8Array(height * width * 4);
    for (let p = 0; p < height * width; p++) {
      for (let k = 0; k < 3; k++) rgba[p * 4 + k] = bytes[p * channels + (channels === 3 ? k : 0)]!;
      rgba[p * 4 + 3] = 255;
    }
    return resizeToFloat(
      { width, height, rgba },
      this.input.height,
      this.input.width,
      this.input.channels as 1 | 3,
      "stretch",
    );
  }

  /**
   * Copies the records `indices` of a streamed cache into `out` chunk by chunk (each chunk one
   * sequential read, kept for the rest of its window); returns the positions it did not fill.
   */
  private async copyFromChunks(
    reader: CacheReader,
    indices: readonly number[],
    out: Uint8Array,
  ): Promise<number[]> {
    const n = this.recordBytes;
    const per = this.chunkRecords;
    const want = [...new Set(indices.map((i) => Math.floor(i / per)))];
    const got = await Promise.all(want.map((c) => this.chunk(reader, c)));
    const byChunk = new Map(want.map((c, j) => [c, got[j]]));
    const missed: number[] = [];
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k]!;
      const block = byChunk.get(Math.floor(i / per));
      if (!block || reader.state(i) !== RECORD_OK) {
        missed.push(k);
        continue;
      }
      const at = (i % per) * n;
      out.set(block.subarray(at, at + n), k * n);
    }
    if (got.includes(undefined) && this.reader === reader) {
      await this.dropTornCache("a chunk of records fails its checksum");
    }
    return missed;
  }

  /** Chunk `c` of a streamed cache (read once, then kept among the last `chunkSlots`). */
  private chunk(reader: CacheReader, c: number): Promise<Uint8Array | undefined> {
    if (this.chunksOf !== reader) {
      this.chunks.clear();
      this.chunksOf = reader;
    }
    let p = this.chunks.get(c);
    if (p) {
      this.chunks.delete(c); // most recently used goes last
    } else {
      const first = c * this.chunkRecords;
      // an error (the reader closed under it, an I/O error) reads as a bad chunk: decoded instead
      p = reader.readChunk(first, Math.min(this.chunkRecords, this.size - first)).catch(() => undefined);
    }
    this.chunks.set(c, p);
    while (this.chunks.size > this.chunkSlots) this.chunks.delete(this.chunks.keys().next().value!);
    return p;
  }

  /** Sample i's bytes; a bad file is an error, or (skipBad) the next good file's sample. */
  private async sample(index: number): Promise<Uint8Array> {
    const own = await this.raw(index, "now");
    if (own) return own;
    if (!this.ctx.skipBad) {
      throw new DatasetError(
        `image-folder: ${this.entries[index]!.file}: ${this.reasonOf(index)}; remove it, or set skipBad: true to leave such files out`,
      );
    }
    for (let k = 1; k < this.size; k++) {
      const j = (index + k) % this.size;
      const r = await this.raw(j, "now");
      if (r) return r;
    }
    throw new DatasetError(
      `${this.what}: every file is bad (first: ${this.entries[0]!.file}: ${this.reasonOf(0)})`,
    );
  }

  private reasonOf(i: number): string {
    return (
      this.bad.get(i) ??
      this.reader?.meta.bad?.find((b) => b.index === i)?.reason ??
      "it failed to decode when the sample cache was built"
    );
  }

  private open(): Promise<void> {
    this.opening ??= (async () => {
      if (!this.cachePath) return;
      const meta: CacheMeta = {
        key: this.key,
        source: this.root,
        kind: "image-folder",
        count: this.size,
        recordBytes: this.recordBytes,
        shape: [this.stored.height, this.stored.width, this.stored.channels],
        options: { resize: this.mode },
        created: new Date().toISOString(),
      };
      this.reader = await CacheReader.open(this.cachePath, this.key, this.ctx.memoryBudget, this.ctx.note);
      if (!this.reader) this.writer = await CacheWriter.create(this.cachePath, meta);
    })();
    return this.opening;
  }

  /** Sample i's bytes, or undefined when the file is bad. */
  private async raw(i: number, priority: "now" | "later"): Promise<Uint8Array | undefined> {
    if (this.closed) throw new DatasetError(`${this.what}: the dataset was closed`);
    await this.open();
    if (this.finishing) await this.finishing;
    if (this.reader) {
      if (this.reader.state(i) === RECORD_BAD) {
        this.markBad(i, this.reasonOf(i));
        return undefined;
      }
      const rec = await this.reader.read(i);
      if (rec) return rec;
      await this.dropTornCache(`record ${i} fails its checksum`);
    } else if (this.writer?.has(i)) {
      if (this.writer.states[i] === RECORD_BAD) return undefined;
      const rec = await this.writer.read(i);
      if (rec) return rec;
    }
    let job = this.inflight.get(i);
    if (!job) {
      job = this.decode(i, priority);
      this.inflight.set(i, job);
      void job.finally(() => this.inflight.delete(i)).catch(() => undefined);
    }
    return job;
  }

  private async decode(i: number, priority: "now" | "later"): Promise<Uint8Array | undefined> {
    const entry = this.entries[i]!;
    const r = await this.ctx.pool.decode(
      {
        file: entry.file,
        height: this.stored.height,
        width: this.stored.width,
        channels: this.stored.channels as 1 | 3,
        mode: this.mode,
      },
      priority,
    );
    const writer = this.writer;
    if (r.ok) {
      writer?.put(i, r.data);
    } else {
      this.markBad(i, r.reason);
      writer?.put(i, undefined);
    }
    if (writer?.complete && !this.finishing) this.finish(writer);
    return r.ok ? r.data : undefined;
  }

  private markBad(i: number, reason: string): void {
    if (this.bad.has(i)) return;
    this.bad.set(i, reason);
    if (!this.ctx.skipBad) return;
    const s = { file: this.entries[i]!.file, reason };
    this.ctx.skipped.push(s);
    for (const f of this.ctx.onSkip) f(s);
  }

  private finish(writer: CacheWriter): void {
    this.finishing = (async () => {
      const bad = [...this.bad].map(([index, reason]) => ({
        index,
        file: this.entries[index]!.file,
        reason,
      }));
      try {
        await writer.finish(bad);
        this.reader = await CacheReader.open(writer.path, this.key, this.ctx.memoryBudget, this.ctx.note);
        await this.removeStale();
      } catch (err) {
        this.ctx.note(
          `sample cache ${writer.path} could not be written (${(err as Error).message}); decoding instead`,
        );
        await writer.abort();
      } finally {
        this.writer = undefined;
        this.finishing = undefined;
      }
    })();
  }

  /** Older caches of the same folder and options (a file changed since): removed. */
  private async removeStale(): Promise<void> {
    if (!this.ctx.cacheDir) return;
    for (const c of await listCaches(this.ctx.cacheDir)) {
      const m = c.meta;
      if (
        m &&
        c.path !== this.cachePath &&
        m.kind === "image-folder" &&
        m.source === this.root &&
        m.key !== this.key &&
        JSON.stringify(m.shape) ===
          JSON.stringify([this.stored.height, this.stored.width, this.stored.channels]) &&
        m.options.resize === this.mode
      ) {
        await rm(c.path, { force: true });
      }
    }
  }

  private async dropTornCache(why: string): Promise<void> {
    const reader = this.reader;
    if (!reader) return;
    this.reader = undefined;
    this.chunks.clear();
    reader.close();
    this.ctx.note(`sample cache ${reader.path}: ${why}; it is deleted and rebuilt`);
    await rm(reader.path, { force: true });
    this.opening = undefined;
    this.filling = false;
    await this.open();
  }

  /** Decodes every file not yet in the cache, in file order, a few at a time, at "later" priority. */
  private startFill(): void {
    if (this.filling || !this.writer) return;
    this.filling = true;
    const writer = this.writer;
    const depth = this.ctx.pool.size * 4;
    void (async () => {
      const active = new Set<Promise<unknown>>();
      for (let i = 0; i < this.size && !this.closed && this.writer === writer; i++) {
        if (writer.has(i) || this.inflight.has(i)) continue;
        const p = this.raw(i, "later").catch(() => undefined);
        active.add(p);
        void p.finally(() => active.delete(p));
        if (active.size >= depth) await Promise.race(active);
      }
      await Promise.all(active);
    })();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.chunks.clear();
    if (this.finishing) await this.finishing.catch(() => undefined);
    this.reader?.close();
    await this.writer?.abort();
    this.writer = undefined;
  }
}
