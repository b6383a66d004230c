/**
 * STL-10 in its binary format (https://cs.stanford.edu/~acoates/stl10/, the extracted
 * `stl10_binary` folder), the dataset the self-supervised literature pretrains on:
 *
 *   train_X.bin  5,000 labelled images     train_y.bin  5,000 label bytes (1-10)
 *   test_X.bin   8,000 labelled images     test_y.bin   8,000 label bytes (1-10)
 *   unlabeled_X.bin  100,000 images        class_names.txt  the 10 class names, one a line
 *
 * Each image is 27,648 bytes: 96x96 red, then green, then blue values, each plane stored column
 * by column (column-major, as MATLAB wrote it). Labels are 1-10 in the files, 0-9 here.
 *
 * `trainSplit` picks what trains: "train" (the 5,000 labelled images; the evaluators' train split
 * too), "unlabeled" (100,000) or "train+unlabeled" (105,000, the usual pretraining set; its
 * unlabelled samples have no label, so run evaluations with a labelled train split). Nothing is
 * downloaded; records are read lazily by offset, and sizes and labels are checked at load.
 */
import { closeSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { defineDataset } from "../plugin/define-plugin.js";
import type { Dataset, InputSpec, Sample } from "../plugin/types.js";
import { openRecords, planarToHwc, type RecordFile, readRecord } from "./record-file.js";
import { checkIndex, DatasetError, type ShapedSplit } from "./split.js";

export const STL10_IMAGE_BYTES = 96 * 96 * 3;
export const STL10_INPUT: InputSpec = { kind: "image", height: 96, width: 96, channels: 3 };
export const STL10_CLASSES = [
  "airplane",
  "bird",
  "car",
  "cat",
  "deer",
  "dog",
  "horse",
  "monkey",
  "ship",
  "truck",
];

export const stl10Options = z.object({
  /** The extracted `stl10_binary` folder. */
  path: z.string().min(1).default("data/stl10_binary"),
  /** What the training split holds. */
  trainSplit: z.enum(["train", "unlabeled", "train+unlabeled"]).default("train"),
  /** Include the 8,000-image test split. */
  test: z.boolean().default(true),
});

interface Part {
  images: RecordFile;
  /** Labels 0-9, or undefined for the unlabeled part. */
  labels?: Uint8Array;
}

export class Stl10Split implements ShapedSplit {
  readonly input = STL10_INPUT;
  readonly size: number;
  private readonly starts: number[] = [];
  private closed = false;

  constructor(
    private readonly what: string,
    private readonly parts: Part[],
  ) {
    let n = 0;
    for (const p of parts) {
      this.starts.push(n);
      n += p.images.records;
    }
    this.size = n;
  }

  async get(index: number): Promise<Sample> {
    checkIndex(this.what, index, this.size);
    if (this.closed) throw new DatasetError(`${this.what}: the dataset was closed`);
    let k = this.parts.length - 1;
    while (this.starts[k]! > index) k--;
    const part = this.parts[k]!;
    const i = index - this.starts[k]!;
    const buf = await readRecord("stl10", part.images, i);
    const data = planarToHwc(buf, 96, 96, 3, false);
    return part.labels ? { data, label: part.labels[i]! } : { data };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.parts) closeSync(p.images.fd);
  }
}

export interface Stl10Dataset extends Dataset {
  readonly train: Stl10Split;
  readonly test?: Stl10Split;
  close(): void;
}

const MISSING =
  "expected the extracted stl10_binary folder (train_X.bin, train_y.bin, test_X.bin, test_y.bin, unlabeled_X.bin) of http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz";

function openImages(path: string): RecordFile {
  return openRecords("stl10", path, STL10_IMAGE_BYTES, "96x96x3 bytes per image", MISSING);
}

async function openPart(dir: string, name: "train" | "test" | "unlabeled"): Promise<Part> {
  const images = openImages(join(dir, `${name}_X.bin`));
  if (name === "unlabeled") return { images };
  try {
    const yPath = join(dir, `${name}_y.bin`);
    const raw = await readFile(yPath).catch((err: NodeJS.ErrnoException) => {
      throw new DatasetError(
        err.code === "ENOENT"
          ? `stl10: ${yPath} does not exist; ${MISSING}`
          : `stl10: cannot read ${yPath}: ${err.message}`,
      );
    });
    if (raw.length !== images.records) {
      throw new DatasetError(
        `stl10: ${yPath} has ${raw.length} labels but ${images.path} has ${images.records} images; one of them is truncated or they do not belong together`,
      );
    }
    const labels = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const y = raw[i]!;
      if (y < 1 || y > 10)
        throw new DatasetError(
          `stl10: ${yPath}: label ${i} is ${y}, expected 1-10; the file is corrupt or not STL-10 binary`,
        );
      labels[i] = y - 1;
    }
    return { images, labels };
  } catch (err) {
    closeSync(images.fd);
    throw err;
  }
}

export async function loadStl10(options: z.input<typeof stl10Options> = {}): Promise<Stl10Dataset> {
  const opts = stl10Options.parse(options);
  const dir = resolve(opts.path);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new DatasetError(`stl10: ${dir} is not a folder; ${MISSING}`);
  const names: Array<"train" | "test" | "unlabeled"> =
    opts.trainSplit === "train"
      ? ["train"]
      : opts.trainSplit === "unlabeled"
        ? ["unlabeled"]
        : ["train", "unlabeled"];
  const opened: Part[] = [];
  try {
    for (const n of names) opened.push(await openPart(dir, n));
    if (opts.test) opened.push(await openPart(dir, "test"));
  } catch (err) {
    for (const p of opened) closeSync(p.images.fd);
    throw err;
  }
  const train = new Stl10Split(`stl10 ${opts.trainSplit}`, opened.slice(0, names.length));
  const test = opts.test ? new Stl10Split("stl10 test", opened.slice(names.length)) : undefined;
  const classText = await readFile(join(dir, "class_names.txt"), "utf8").catch(() => undefined);
  const fileNames = classText
    ?.split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
  const classNames = fileNames?.length === 10 ? fileNames : [...STL10_CLASSES];
  return {
    name: "stl10",
    input: STL10_INPUT,
    numClasses: 10,
    classNames,
    train,
    ...(test ? { test } : {}),
    close() {
      train.close();
      test?.close();
    },
  };
}

export const stl10 = defineDataset({
  name: "stl10",
  description: "STL-10 from its binary files in a local folder (`path`), 96x96x3; train, unlabeled or both",
  options: stl10Options,
  load: (opts) => loadStl10(opts),
});
