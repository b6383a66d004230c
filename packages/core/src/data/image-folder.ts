/**
 * Images from a folder: PNG or JPEG files either in one sub-folder per class (labelled, as
 * torchvision's ImageFolder: `root/cat/1.png`, `root/dog/2.jpg`) or directly in the folder
 * (unlabelled, the usual case for self-supervised pretraining). Each image is decoded and resized
 * to `size` when it is read (`get`), never all at once, with a small LRU cache of decoded samples.
 *
 * Files are checked when the dataset loads: every file must start with a PNG or JPEG signature
 * (`verify: "full"` decodes each one too). A bad file stops loading with its name, unless
 * `skipBad` is set: then it is left out and listed in `skipped`.
 */
import { open, readdir, readFile, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { z } from "zod";
import { defineDataset } from "../plugin/define-plugin.js";
import type { Dataset, InputSpec, Sample } from "../plugin/types.js";
import { decodeImage, resizeToFloat, sniffImageFormat } from "./image-decode.js";
import { LruCache } from "./lru.js";
import { checkIndex, DatasetError, type ShapedSplit } from "./split.js";

export interface SkippedFile {
  file: string;
  reason: string;
}

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
  /** Decoded samples kept in memory (0: none). */
  cacheSize: z.number().int().min(0).default(256),
});
export type ImageFolderOptions = z.output<typeof imageFolderOptions>;

export interface ImageFolderEntry {
  file: string;
  label?: number;
}

/** A folder split: decodes on `get`. */
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

/** Why a file is not usable, or undefined when it is. */
async function checkFile(file: string, full: boolean): Promise<string | undefined> {
  try {
    if (full) {
      decodeImage(await readFile(file), file);
      return undefined;
    }
    const fh = await open(file, "r");
    try {
      const head = Buffer.alloc(8);
      const { bytesRead } = await fh.read(head, 0, 8, 0);
      if (!sniffImageFormat(head.subarray(0, bytesRead)))
        return "not a PNG or JPEG image (no image signature)";
      return undefined;
    } finally {
      await fh.close();
    }
  } catch (err) {
    const msg = (err as Error).message;
    return msg.startsWith(file) ? msg.slice(file.length).replace(/^ is /, "") : msg;
  }
}

interface Scan {
  entries: ImageFolderEntry[];
  classNames?: string[];
  skipped: SkippedFile[];
}

async function scanFolder(root: string, opts: ImageFolderOptions, knownClasses?: string[]): Promise<Scan> {
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
  const full = opts.verify === "full";
  for (let i = 0; i < candidates.length; i += 64) {
    const chunk = candidates.slice(i, i + 64);
    const problems = await Promise.all(chunk.map((c) => checkFile(c.file, full)));
    chunk.forEach((c, k) => {
      const problem = problems[k];
      if (problem === undefined) entries.push(c);
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
      `image-folder: no PNG or JPEG images in ${root}${skipped.length > 0 ? ` (${skipped.length} files skipped as bad)` : ""}`,
    );
  }
  return { entries, skipped, ...(labelled ? { classNames: knownClasses ?? dirs } : {}) };
}

/** A loaded image folder; `skipped` lists the files left out by `skipBad`. */
export interface ImageFolderDataset extends Dataset {
  readonly train: ImageFolderSplit;
  readonly test?: ImageFolderSplit;
  readonly skipped: SkippedFile[];
}

/** Loads an image folder (options validated by `imageFolderOptions`); typed access to `skipped`. */
export async function loadImageFolder(
  options: z.input<typeof imageFolderOptions> = {},
): Promise<ImageFolderDataset> {
  const opts = imageFolderOptions.parse(options);
  const [height, width] = typeof opts.size === "number" ? [opts.size, opts.size] : opts.size;
  const input = { kind: "image" as const, height, width, channels: opts.channels };
  const root = resolve(opts.path);
  const train = await scanFolder(root, opts);
  const test = opts.testPath ? await scanFolder(resolve(opts.testPath), opts, train.classNames) : undefined;
  if (test && (test.classNames === undefined) !== (train.classNames === undefined)) {
    throw new DatasetError(
      `image-folder: ${opts.testPath} and ${opts.path} must both have class folders or both be flat`,
    );
  }
  const name = "image-folder";
  const where = relative(process.cwd(), root) || ".";
  return {
    name,
    input,
    ...(train.classNames ? { numClasses: train.classNames.length, classNames: train.classNames } : {}),
    train: new ImageFolderSplit(
      `image-folder ${where} train`,
      input,
      train.entries,
      opts.resize,
      opts.cacheSize,
    ),
    ...(test
      ? {
          test: new ImageFolderSplit(
            `image-folder ${opts.testPath} test`,
            input,
            test.entries,
            opts.resize,
            opts.cacheSize,
          ),
        }
      : {}),
    skipped: [...train.skipped, ...(test?.skipped ?? [])],
  };
}

export const imageFolder = defineDataset({
  name: "image-folder",
  description:
    "PNG/JPEG images in class sub-folders (labelled) or flat (unlabelled), decoded and resized on read",
  options: imageFolderOptions,
  load: (opts) => loadImageFolder(opts),
});
