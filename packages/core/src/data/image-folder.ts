/**
 * Images from a folder: JPEG, PNG, WebP, AVIF, TIFF or GIF files either in one sub-folder per class
 * (labelled, as torchvision's ImageFolder: `root/cat/1.png`, `root/dog/2.jpg`) or directly in the
 * folder (unlabelled, the usual case for self-supervised pretraining).
 *
 * With the default `decoder: "sharp"`, files are read, decoded, oriented (EXIF) and resized on a pool
 * of worker threads (decode-pool.ts) and the loader keeps `prefetch` batches in flight, so decoding
 * overlaps the training step. The first pass writes every resized sample into a packed uint8 cache
 * file under `$SELFSUP_HOME/cache/` (sample-cache.ts), filled in file order in the background while
 * training asks for its shuffled batches first; from then on, this run's later epochs and later runs
 * read samples from the cache (in memory when it fits `memoryBudgetMB`, else streamed by record)
 * and only augment. The cache is keyed by the file list, each file's size and mtime and the resize
 * options: change, add or remove a file and a new cache is built (the stale one is removed).
 *
 * The cache holds samples at the training size (`size`) unless `storeSize` asks for a larger short
 * side (as ImageNet pipelines keep 256 px for 224 px crops): then the samples are decoded and cached
 * at that size, training batches keep it (`source`) for the augmentations to crop from (a random
 * resized crop cuts its box from the larger sample and resizes it to `size`, so a small crop keeps
 * real detail instead of being upsampled), and the batch the model sees un-augmented (and single
 * reads: previews, evaluation) is resized to `size`. The cost: (storeSize / size)^2 the cache's disk
 * and memory (256 for 224: 1.31x; 80 for 64: 1.56x), the same in per-batch bytes, and a resize per batch.
 *
 * `decoder: "js"` is the original path (pure-JS PNG/JPEG decode and resize on the calling thread,
 * an LRU of `cacheSize` samples, no pool, no file cache), kept for hosts without sharp's binaries.
 *
 * Files are checked when the dataset loads: every file must start with an image signature
 * (`verify: "full"` decodes each one too). A bad file (corrupt, truncated, empty, not an image,
 * unreadable, or one that crashes its decoder) stops with its name and the reason, unless `skipBad`
 * is set: then it is left out (found at load) or replaced by the next good file's sample (found
 * while training), and listed in `skipped`.
 */
import { open, readdir, readFile, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { join, relative, resolve } from "node:path";
import { z } from "zod";
import { defineDataset } from "../plugin/define-plugin.js";
import type { Dataset, InputSpec, Sample } from "../plugin/types.js";
import { DecodePool } from "./decode-pool.js";
import { decodeImage, IMAGE_SIGNATURE_BYTES, resizeToFloat, sniffImageFormat } from "./image-decode.js";
import { type PooledContext, PooledFolderSplit } from "./image-folder-pooled.js";
import type { FileStamp, ImageFolderEntry, SkippedFile } from "./image-folder-types.js";
import { LruCache } from "./lru.js";
import { cacheDir } from "./sample-cache.js";
import { checkIndex, DatasetError, type ShapedSplit } from "./split.js";

export type { FileStamp, ImageFolderEntry, SkippedFile };

const NOT_AN_IMAGE = "not a PNG or JPEG image, nor WebP, AVIF, TIFF or GIF";

export const imageFolderOptions = z.object({
  /** Folder of class sub-folders (labelled) or of images (unlabelled). */
  path: z.string().min(1).default("data/images"),
  /** Optional test folder with the same class sub-folders. */
  testPath: z.string().min(1).optional(),
  /** Output size: one number (square) or [height, width]. */
  size: z
    .union([z.number().int().positive(), z.tuple([z.number().int().positive(), z.number().int().positive()])])
    .default(32),
  channels: z.union([z.literal(1), z.literal(3)]).default(3),
  /** "center-crop" keeps the aspect ratio (cuts the longer side); "stretch" does not. */
  resize: z.enum(["center-crop", "stretch"]).default("center-crop"),
  /** Leave out files that are not images (listed in `skipped`) instead of failing. */
  skipBad: z.boolean().default(false),
  /** "header": check each file's signature at load; "full": decode each one at load (slower). */
  verify: z.enum(["header", "full"]).default("header"),
  /** "sharp": worker threads on libvips (all formats, fast); "js": pure-JS PNG/JPEG on this thread. */
  decoder: z.enum(["sharp", "js"]).default("sharp"),
  /** Decode worker threads (sharp; default: one per core, at most 32). */
  workers: z.number().int().positive().max(256).optional(),
  /** Batches the loader keeps in flight ahead of the step (sharp). */
  prefetch: z.number().int().positive().max(64).default(4),
  /** Packed sample cache under $SELFSUP_HOME/cache (sharp): later epochs and runs skip decoding. */
  cache: z.boolean().default(true),
  /** Folder of the sample cache (default $SELFSUP_HOME/cache; SELFSUP_HOME defaults to ./.selfsup). */
  cacheDir: z.string().min(1).optional(),
  /** A cache whose samples fit in this many MiB is read into memory; a larger one is streamed. */
  memoryBudgetMB: z.number().min(0).default(1024),
  /**
   * A streamed cache's epochs shuffle 1 MiB chunks, then the samples within each window of this
   * many MiB of chunks (memory holds about two windows); larger mixes better.
   */
  shuffleWindowMB: z.number().min(1).max(65536).default(32),
  /**
   * Short side of the cached samples (sharp), at least the training size's; larger keeps detail for
   * random resized crops (cut from the stored sample, resized to `size`). Default: `size`.
   */
  storeSize: z.number().int().positive().max(4096).optional(),
  /** Decoded samples kept in memory by the "js" decoder (0: none). */
  cacheSize: z.number().int().min(0).default(256),
});
export type ImageFolderOptions = z.output<typeof imageFolderOptions>;

/** A folder split with the "js" decoder: decodes on `get`, on the calling thread. */
export class ImageFolderSplit implements ShapedSplit {
  readonly size: number;
  private readonly cache: LruCache<number, Sample>;

  constructor(
    private readonly what: string,
    readonly input: InputSpec & { kind: "image" },
    readonly entries: readonly ImageFolderEntry[],
    private readonly mode: "center-crop" | "stretch",
    cacheSize: number,
  ) {
    this.size = entries.length;
    this.cache = new LruCache(cacheSize);
  }

  async get(index: number): Promise<Sample> {
    checkIndex(this.what, index, this.size);
    const hit = this.cache.get(index);
    if (hit) return { data: hit.data.slice(), ...(hit.label !== undefined ? { label: hit.label } : {}) };
    const entry = this.entries[index]!;
    let bytes: Buffer;
    try {
      bytes = await readFile(entry.file);
    } catch (err) {
      throw new DatasetError(`${this.what}: cannot read ${entry.file}: ${(err as Error).message}`);
    }
    const { height, width, channels } = this.input;
    const data = resizeToFloat(decodeImage(bytes, entry.file), height, width, channels as 1 | 3, this.mode);
    const sample: Sample = entry.label !== undefined ? { data, label: entry.label } : { data };
    this.cache.set(index, sample);
    return { data: data.slice(), ...(entry.label !== undefined ? { label: entry.label } : {}) };
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    const items = (await readdir(d, { withFileTypes: true })).filter((e) => !e.name.startsWith("."));
    items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const item of items) {
      const p = join(d, item.name);
      if (item.isDirectory()) await walk(p);
      else if (item.isFile()) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** Decodes a file fully at load (`verify: "full"`): why it is bad, or undefined. */
type FullCheck = (file: string) => Promise<string | undefined>;

/** Why a file is not usable (or undefined when it is), and its size and mtime. */
async function checkFile(
  file: string,
  full: FullCheck | undefined,
): Promise<{ problem?: string; stamp?: FileStamp }> {
  try {
    const fh = await open(file, "r");
    try {
      const info = await fh.stat();
      const stamp = { size: info.size, mtimeMs: info.mtimeMs };
      if (info.size === 0) return { problem: "the file is empty (0 bytes)", stamp };
      if (full) {
        const problem = await full(file);
        return problem === undefined ? { stamp } : { problem, stamp };
      }
      const head = Buffer.alloc(IMAGE_SIGNATURE_BYTES);
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      if (!sniffImageFormat(head.subarray(0, bytesRead)))
        return { problem: `${NOT_AN_IMAGE} (no image signature)`, stamp };
      return { stamp };
    } finally {
      await fh.close();
    }
  } catch (err) {
    const msg = (err as Error).message;
    return { problem: msg.startsWith(file) ? msg.slice(file.length).replace(/^ is /, "") : msg };
  }
}

interface Scan {
  entries: ImageFolderEntry[];
  classNames?: string[];
  skipped: SkippedFile[];
}

async function scanFolder(
  root: string,
  opts: ImageFolderOptions,
  full: FullCheck | undefined,
  knownClasses?: string[],
): Promise<Scan> {
  const info = await stat(root).catch(() => undefined);
  if (!info) throw new DatasetError(`image-folder: ${root} does not exist`);
  if (!info.isDirectory()) throw new DatasetError(`image-folder: ${root} is not a folder`);
  const top = (await readdir(root, { withFileTypes: true })).filter((e) => !e.name.startsWith("."));
  const dirs = top
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const loose = top
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
  if (dirs.length > 0 && loose.length > 0) {
    throw new DatasetError(
      `image-folder: ${root} mixes class folders (${dirs.slice(0, 3).join(", ")}${dirs.length > 3 ? ", ..." : ""}) and loose files (${loose
        .slice(0, 3)
        .join(
          ", ",
        )}${loose.length > 3 ? ", ..." : ""}); put every image in a class folder (labelled) or none in folders (unlabelled)`,
    );
  }
  const labelled = dirs.length > 0;
  let candidates: ImageFolderEntry[];
  if (labelled) {
    if (knownClasses) {
      const extra = dirs.filter((d) => !knownClasses.includes(d));
      if (extra.length > 0) {
        throw new DatasetError(
          `image-folder: ${root} has class folders not in the training folder: ${extra.join(", ")}`,
        );
      }
    }
    const classes = knownClasses ?? dirs;
    candidates = [];
    for (const d of dirs) {
      const label = classes.indexOf(d);
      for (const file of await listFiles(join(root, d))) candidates.push({ file, label });
    }
  } else {
    candidates = loose.map((name) => ({ file: join(root, name) }));
  }
  const skipped: SkippedFile[] = [];
  const entries: ImageFolderEntry[] = [];
  for (let i = 0; i < candidates.length; i += 64) {
    const chunk = candidates.slice(i, i + 64);
    const checks = await Promise.all(chunk.map((c) => checkFile(c.file, full)));
    chunk.forEach((c, k) => {
      const { problem, stamp } = checks[k]!;
      if (problem === undefined) entries.push(stamp ? { ...c, stamp } : c);
      else if (opts.skipBad) skipped.push({ file: c.file, reason: problem });
      else {
        throw new DatasetError(
          `image-folder: ${c.file}: ${problem}; remove it, or set skipBad: true to leave such files out`,
        );
      }
    });
  }
  if (entries.length === 0) {
    throw new DatasetError(
      `image-folder: no PNG or JPEG images in ${root} (nor WebP, AVIF, TIFF, GIF)${skipped.length > 0 ? ` (${skipped.length} files skipped as bad)` : ""}`,
    );
  }
  return { entries, skipped, ...(labelled ? { classNames: knownClasses ?? dirs } : {}) };
}

/** A loaded image folder; `skipped` lists the files left out by `skipBad`. */
export interface ImageFolderDataset extends Dataset {
  readonly train: ImageFolderSplit | PooledFolderSplit;
  readonly test?: ImageFolderSplit | PooledFolderSplit;
  /** Bad files left out at load or replaced while training (`skipBad`); grows as more are found. */
  readonly skipped: SkippedFile[];
  /** Called for each bad file found after loading (`skipBad`). */
  onSkip(listener: (s: SkippedFile) => void): void;
  /** Called with things to tell the user (a torn cache rebuilt); else they go to stderr. */
  onNote(listener: (message: string) => void): void;
  /** Ends the decode workers and closes the cache files. */
  close(): Promise<void>;
}

/**
 * The shape the samples are cached at: `input` scaled so its short side is `storeSize` (the
 * aspect ratio kept), or `input` itself without one. A `storeSize` below the short side is an error.
 */
export function storedInput<T extends { height: number; width: number }>(
  input: T,
  storeSize: number | undefined,
): T {
  if (storeSize === undefined) return input;
  const short = Math.min(input.height, input.width);
  if (storeSize < short) {
    throw new DatasetError(
      `image-folder: storeSize ${storeSize} is smaller than the training size's short side (${short}); it keeps samples larger for the crops, so use at least ${short}`,
    );
  }
  const k = storeSize / short;
  return { ...input, height: Math.round(input.height * k), width: Math.round(input.width * k) };
}

/** `~` or `~/...` at the start of a path is the home folder (a config file or a quoted `--set` has no shell to expand it). */
export function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
}

/** Loads an image folder (options validated by `imageFolderOptions`); typed access to `skipped`. */
export async function loadImageFolder(
  options: z.input<typeof imageFolderOptions> = {},
): Promise<ImageFolderDataset> {
  const opts = imageFolderOptions.parse(options);
  const [height, width] = typeof opts.size === "number" ? [opts.size, opts.size] : opts.size;
  const input = { kind: "image" as const, height, width, channels: opts.channels };
  const stored = storedInput(input, opts.storeSize);
  const root = resolve(expandHome(opts.path));
  const pooled = opts.decoder === "sharp";
  if (!pooled && stored !== input)
    throw new DatasetError(`image-folder: storeSize needs decoder: "sharp" (the "js" decoder has no cache)`);
  const pool = pooled ? new DecodePool(opts.workers !== undefined ? { size: opts.workers } : {}) : undefined;
  let full: FullCheck | undefined;
  if (opts.verify === "full") {
    full = pool
      ? async (file) => {
          const r = await pool.decode({ file, height, width, channels: opts.channels, mode: opts.resize });
          return r.ok ? undefined : r.reason;
        }
      : async (file) => {
          decodeImage(await readFile(file), file);
          return undefined;
        };
  }
  try {
    const train = await scanFolder(root, opts, full);
    const test = opts.testPath
      ? await scanFolder(resolve(expandHome(opts.testPath)), opts, full, train.classNames)
      : undefined;
    if (test && (test.classNames === undefined) !== (train.classNames === undefined)) {
      throw new DatasetError(
        `image-folder: ${opts.testPath} and ${opts.path} must both have class folders or both be flat`,
      );
    }
    const where = relative(process.cwd(), root) || ".";
    const skipped = [...train.skipped, ...(test?.skipped ?? [])];
    const skipListeners: Array<(s: SkippedFile) => void> = [];
    const noteListeners: Array<(m: string) => void> = [];
    const note = (m: string) => {
      if (noteListeners.length === 0) process.stderr.write(`image-folder: ${m}\n`);
      for (const f of noteListeners) f(m);
    };
    let makeSplit: (
      what: string,
      dir: string,
      entries: ImageFolderEntry[],
    ) => ImageFolderSplit | PooledFolderSplit;
    if (pool) {
      const ctx: PooledContext = {
        pool,
        skipBad: opts.skipBad,
        skipped,
        onSkip: skipListeners,
        note,
        cacheDir: opts.cache ? resolve(opts.cacheDir ? expandHome(opts.cacheDir) : cacheDir()) : undefined,
        memoryBudget: opts.memoryBudgetMB * 1024 * 1024,
        prefetchBatches: opts.prefetch,
        shuffleWindow: opts.shuffleWindowMB * 1024 * 1024,
      };
      makeSplit = (what, dir, entries) =>
        new PooledFolderSplit(what, input, entries, opts.resize, dir, ctx, stored);
    } else {
      makeSplit = (what, _dir, entries) =>
        new ImageFolderSplit(what, input, entries, opts.resize, opts.cacheSize);
    }
    const trainSplit = makeSplit(`image-folder ${where} train`, root, train.entries);
    const testSplit =
      test && opts.testPath
        ? makeSplit(`image-folder ${opts.testPath} test`, resolve(expandHome(opts.testPath)), test.entries)
        : undefined;
    return {
      name: "image-folder",
      input,
      ...(train.classNames ? { numClasses: train.classNames.length, classNames: train.classNames } : {}),
      train: trainSplit,
      ...(testSplit ? { test: testSplit } : {}),
      skipped,
      onSkip: (f) => void skipListeners.push(f),
      onNote: (f) => void noteListeners.push(f),
      async close() {
        for (const s of [trainSplit, testSplit]) if (s instanceof PooledFolderSplit) await s.close();
        await pool?.close();
      },
    };
  } catch (err) {
    await pool?.close();
    throw err;
  }
}

export const imageFolder = defineDataset({
  name: "image-folder",
  description:
    "JPEG/PNG/WebP/AVIF/TIFF/GIF images in class sub-folders (labelled) or flat (unlabelled), decoded on worker threads into a packed sample cache",
  options: imageFolderOptions,
  load: (opts) => loadImageFolder(opts),
});
