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
 */
import { rm } from "node:fs/promises";
import type { InputSpec, Sample } from "../plugin/types.js";
import type { DecodePool } from "./decode-pool.js";
import type { ResizeMode } from "./image-decode.js";
import type { FileStamp, ImageFolderEntry, SkippedFile } from "./image-folder-types.js";
import {
  type CacheMeta,
  CacheReader,
  CacheWriter,
  cacheKey,
  listCaches,
  RECORD_BAD,
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

  constructor(
    private readonly what: string,
    readonly input: InputSpec & { kind: "image" },
    readonly entries: readonly ImageFolderEntry[],
    private readonly mode: ResizeMode,
    private readonly root: string,
    private readonly ctx: PooledContext,
  ) {
    this.size = entries.length;
    this.recordBytes = input.height * input.width * input.channels;
    this.labelled = entries.length > 0 && entries.every((e) => e.label !== undefined);
    this.prefetchBatches = ctx.prefetchBatches;
    this.key = folderCacheKey(root, entries, input, mode);
    this.cachePath = ctx.cacheDir ? `${ctx.cacheDir}/${cacheFileName(root, this.key)}` : undefined;
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
    const data = new Float32Array(this.recordBytes);
    unitFloats(bytes, data);
    const label = this.entries[index]!.label;
    return label !== undefined ? { data, label } : { data };
  }

  async getBatch(indices: readonly number[]): Promise<BatchData> {
    for (const i of indices) checkIndex(this.what, i, this.size);
    // batches are training: fill the cache in the background (single reads, a preview or an
    // evaluation, only decode what they ask for, so a short command never waits for a whole folder)
    await this.open();
    this.startFill();
    const data = new Float32Array(indices.length * this.recordBytes);
    // the warm path: a cache in memory is read synchronously, straight into the batch
    const reader = this.reader;
    const rest: number[] = [];
    if (reader?.inMemory && !this.finishing && !this.closed) {
      for (let k = 0; k < indices.length; k++) {
        const rec = reader.state(indices[k]!) === RECORD_BAD ? undefined : reader.memoryRecord(indices[k]!);
        if (rec) unitFloats(rec, data, k * this.recordBytes);
        else rest.push(k);
      }
    } else {
      for (let k = 0; k < indices.length; k++) rest.push(k);
    }
    const samples = await Promise.all(rest.map((k) => this.sample(indices[k]!)));
    for (let r = 0; r < rest.length; r++) unitFloats(samples[r]!, data, rest[r]! * this.recordBytes);
    if (!this.labelled) return { data };
    return { data, labels: Int32Array.from(indices, (i) => this.entries[i]!.label!) };
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
        shape: [this.input.height, this.input.width, this.input.channels],
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
        height: this.input.height,
        width: this.input.width,
        channels: this.input.channels as 1 | 3,
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
          JSON.stringify([this.input.height, this.input.width, this.input.channels]) &&
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
    if (this.finishing) await this.finishing.catch(() => undefined);
    this.reader?.close();
    await this.writer?.abort();
    this.writer = undefined;
  }
}
