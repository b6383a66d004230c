/**
 * CIFAR-10 in its binary format (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"):
 * `data_batch_1.bin` .. `data_batch_5.bin` (train) and `test_batch.bin`, each a run of 3,073-byte
 * records: 1 label byte (0-9), then 3,072 pixel bytes, the 1,024 red, 1,024 green and 1,024 blue
 * values of a 32x32 image, row-major. Nothing is downloaded: point `path` at the extracted folder.
 *
 * Records are read lazily by offset through an open file descriptor, so a split costs no memory
 * beyond the sample being read. File sizes and label bytes are checked at load, so a truncated
 * download or a corrupt record fails at once with the file's name instead of mid-training.
 */
import { closeSync } from "node:fs";
import { stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { defineDataset } from "../plugin/define-plugin.js";
import type { Dataset, InputSpec, Sample } from "../plugin/types.js";
import { openRecords, planarToHwc, type RecordFile, readRecord, scanRecords } from "./record-file.js";
import { checkIndex, DatasetError, type ShapedSplit } from "./split.js";

export const CIFAR10_RECORD_BYTES = 3073;
export const CIFAR10_CLASSES = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
] as const;
export const CIFAR10_INPUT: InputSpec = { kind: "image", height: 32, width: 32, channels: 3 };

/**
 * Opens and checks one batch file: it must exist, hold a whole number of records, and every
 * record's label byte must be 0-9 (one sequential read at load, so a corrupt record fails now,
 * naming the record, not mid-training).
 */
function openRecordFile(path: string): RecordFile {
  const file = openRecords(
    "cifar10",
    path,
    CIFAR10_RECORD_BYTES,
    "1 label byte + 3072 pixel bytes",
    "expected the binary version's files (data_batch_1.bin .. data_batch_5.bin, test_batch.bin)",
  );
  try {
    scanRecords(file, 1, (_, head) =>
      head[0]! > 9
        ? `has label ${head[0]}, expected 0-9; the file is corrupt or not CIFAR-10 binary`
        : undefined,
    );
  } catch (err) {
    closeSync(file.fd);
    throw err;
  }
  return file;
}

/** A CIFAR-10 split over one or more batch files, read by offset. */
export class Cifar10Split implements ShapedSplit {
  readonly input = CIFAR10_INPUT;
  readonly size: number;
  private readonly starts: number[] = [];
  private closed = false;

  constructor(
    private readonly what: string,
    private readonly files: RecordFile[],
  ) {
    let n = 0;
    for (const f of files) {
      this.starts.push(n);
      n += f.records;
    }
    this.size = n;
  }

  async get(index: number): Promise<Sample> {
    checkIndex(this.what, index, this.size);
    if (this.closed) throw new DatasetError(`${this.what}: the dataset was closed`);
    let k = this.files.length - 1;
    while (this.starts[k]! > index) k--;
    const file = this.files[k]!;
    const record = index - this.starts[k]!;
    const buf = await readRecord("cifar10", file, record);
    const label = buf[0]!;
    if (label > 9)
      throw new DatasetError(`cifar10: ${file.path}: record ${record} has label ${label}, expected 0-9`);
    // CHW bytes -> HWC floats in [0,1]
    const data = planarToHwc(buf.subarray(1), 32, 32, 3, true);
    return { data, label };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.files) closeSync(f.fd);
  }
}

export const cifar10Options = z.object({
  /** Folder holding the binary batch files (the extracted `cifar-10-batches-bin`). */
  path: z.string().min(1).default("data/cifar-10-batches-bin"),
  /** Training batch files, relative to `path`. */
  trainFiles: z
    .array(z.string().min(1))
    .min(1)
    .default([
      "data_batch_1.bin",
      "data_batch_2.bin",
      "data_batch_3.bin",
      "data_batch_4.bin",
      "data_batch_5.bin",
    ]),
  /** Test batch file, relative to `path`; null for none. */
  testFile: z.string().min(1).nullable().default("test_batch.bin"),
});

/** A loaded CIFAR-10 dataset; `close()` releases its file descriptors. */
export interface Cifar10Dataset extends Dataset {
  readonly train: Cifar10Split;
  readonly test?: Cifar10Split;
  close(): void;
}

/** Loads CIFAR-10 (options validated by `cifar10Options`); typed access to `close()`. */
export async function loadCifar10(options: z.input<typeof cifar10Options> = {}): Promise<Cifar10Dataset> {
  const opts = cifar10Options.parse(options);
  const dir = resolve(opts.path);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new DatasetError(
      `cifar10: ${dir} is not a folder; set \`path\` to the extracted cifar-10-batches-bin folder of https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz`,
    );
  }
  const opened: RecordFile[] = [];
  try {
    for (const f of opts.trainFiles) opened.push(openRecordFile(join(dir, f)));
    if (opts.testFile) opened.push(openRecordFile(join(dir, opts.testFile)));
  } catch (err) {
    for (const f of opened) closeSync(f.fd);
    throw err;
  }
  const nTrain = opts.trainFiles.length;
  const train = new Cifar10Split("cifar10 train", opened.slice(0, nTrain));
  const test = opts.testFile ? new Cifar10Split("cifar10 test", opened.slice(nTrain)) : undefined;
  return {
    name: "cifar10",
    input: CIFAR10_INPUT,
    numClasses: 10,
    classNames: [...CIFAR10_CLASSES],
    train,
    ...(test ? { test } : {}),
    close() {
      train.close();
      test?.close();
    },
  };
}

export const cifar10 = defineDataset({
  name: "cifar10",
  description: "CIFAR-10 from its binary files in a local folder (`path`), 32x32x3, read lazily",
  options: cifar10Options,
  load: (opts) => loadCifar10(opts),
});
