/**
 * CIFAR-100 in its binary format (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version",
 * the extracted `cifar-100-binary` folder): `train.bin` (50,000 records) and `test.bin` (10,000),
 * each record 3,074 bytes: a coarse label byte (0-19, the superclass), a fine label byte (0-99),
 * then 3,072 pixel bytes, the 1,024 red, 1,024 green and 1,024 blue values of a 32x32 image,
 * row-major. `fine_label_names.txt` / `coarse_label_names.txt` name the classes when present.
 * Nothing is downloaded. Records are read lazily by offset; sizes and labels are checked at load.
 */
import { closeSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { defineDataset } from "../plugin/define-plugin.js";
import type { Dataset, InputSpec, Sample } from "../plugin/types.js";
import { openRecords, planarToHwc, type RecordFile, readRecord, scanRecords } from "./record-file.js";
import { checkIndex, DatasetError, type ShapedSplit } from "./split.js";

export const CIFAR100_RECORD_BYTES = 3074;
export const CIFAR100_INPUT: InputSpec = { kind: "image", height: 32, width: 32, channels: 3 };

export const cifar100Options = z.object({
  /** Folder holding train.bin and test.bin (the extracted `cifar-100-binary`). */
  path: z.string().min(1).default("data/cifar-100-binary"),
  /** "fine": the 100 classes; "coarse": the 20 superclasses. */
  labels: z.enum(["fine", "coarse"]).default("fine"),
  trainFile: z.string().min(1).default("train.bin"),
  /** Test file, relative to `path`; null for none. */
  testFile: z.string().min(1).nullable().default("test.bin"),
});

export class Cifar100Split implements ShapedSplit {
  readonly input = CIFAR100_INPUT;
  readonly size: number;
  private closed = false;

  constructor(
    private readonly what: string,
    private readonly file: RecordFile,
    private readonly fine: boolean,
  ) {
    this.size = file.records;
  }

  async get(index: number): Promise<Sample> {
    checkIndex(this.what, index, this.size);
    if (this.closed) throw new DatasetError(`${this.what}: the dataset was closed`);
    const buf = await readRecord("cifar100", this.file, index);
    return { data: planarToHwc(buf.subarray(2), 32, 32, 3, true), label: buf[this.fine ? 1 : 0]! };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.file.fd);
  }
}

export interface Cifar100Dataset extends Dataset {
  readonly train: Cifar100Split;
  readonly test?: Cifar100Split;
  close(): void;
}

function openCifar100(path: string): RecordFile {
  const file = openRecords(
    "cifar100",
    path,
    CIFAR100_RECORD_BYTES,
    "1 coarse label byte + 1 fine label byte + 3072 pixel bytes",
    "expected the binary version's train.bin and test.bin (cifar-100-binary.tar.gz)",
  );
  try {
    scanRecords(file, 2, (_, head) =>
      head[0]! > 19
        ? `has coarse label ${head[0]}, expected 0-19; the file is corrupt or not CIFAR-100 binary (CIFAR-10's files have one label byte)`
        : head[1]! > 99
          ? `has fine label ${head[1]}, expected 0-99; the file is corrupt or not CIFAR-100 binary`
          : undefined,
    );
  } catch (err) {
    closeSync(file.fd);
    throw err instanceof DatasetError ? new DatasetError(`cifar100: ${err.message}`) : err;
  }
  return file;
}

async function classNames(dir: string, fine: boolean): Promise<string[]> {
  const n = fine ? 100 : 20;
  const text = await readFile(
    join(dir, fine ? "fine_label_names.txt" : "coarse_label_names.txt"),
    "utf8",
  ).catch(() => undefined);
  const names = text
    ?.split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
  return names && names.length === n ? names : Array.from({ length: n }, (_, i) => `class ${i}`);
}

export async function loadCifar100(options: z.input<typeof cifar100Options> = {}): Promise<Cifar100Dataset> {
  const opts = cifar100Options.parse(options);
  const dir = resolve(opts.path);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new DatasetError(
      `cifar100: ${dir} is not a folder; set \`path\` to the extracted cifar-100-binary folder of https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz`,
    );
  }
  const fine = opts.labels === "fine";
  const trainFile = openCifar100(join(dir, opts.trainFile));
  let testFile: RecordFile | undefined;
  try {
    testFile = opts.testFile ? openCifar100(join(dir, opts.testFile)) : undefined;
  } catch (err) {
    closeSync(trainFile.fd);
    throw err;
  }
  const train = new Cifar100Split("cifar100 train", trainFile, fine);
  const test = testFile ? new Cifar100Split("cifar100 test", testFile, fine) : undefined;
  const names = await classNames(dir, fine);
  return {
    name: "cifar100",
    input: CIFAR100_INPUT,
    numClasses: names.length,
    classNames: names,
    train,
    ...(test ? { test } : {}),
    close() {
      train.close();
      test?.close();
    },
  };
}

export const cifar100 = defineDataset({
  name: "cifar100",
  description: "CIFAR-100 from its binary files in a local folder (`path`), 32x32x3, fine or coarse labels",
  options: cifar100Options,
  load: (opts) => loadCifar100(opts),
});
