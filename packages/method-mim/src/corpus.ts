/**
 * The corpus this package ships (corpus/topics.txt, 4,000 generated English sentences on four
 * topics, with their topic in corpus/topics.labels; see corpus/README.md): MLM trains on it with
 * no download, and its labels give the downstream text-classification probe.
 *
 * As a dataset (`topics-corpus`, registered by the plugin) it is core's text-lines recipe - a
 * tokenizer built from the training lines with [PAD] [UNK] [CLS] [MASK] at ids 0-3, [CLS] first,
 * cut or padded to seqLen - plus labels. `shippedCorpusPath()` gives the text file for core's own
 * `text-lines` dataset (`--set dataset.options.path=...`).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Dataset,
  DatasetError,
  type DatasetSplit,
  defineDataset,
  Rng,
  type Sample,
  Tokenizer,
} from "@selfsup/core";
import { z } from "zod";

export const TOPIC_NAMES = ["weather", "kitchen", "sport", "travel"] as const;

/** The shipped corpus directory (package root /corpus, from src/ or dist/ alike). */
export function shippedCorpusDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "corpus");
}

/** corpus/topics.txt: one sentence per line. */
export function shippedCorpusPath(): string {
  return join(shippedCorpusDir(), "topics.txt");
}

export const topicsCorpusOptions = z.object({
  tokenizer: z.enum(["word", "char"]).default("word").describe("word- or character-level tokens"),
  seqLen: z.number().int().min(2).default(24).describe("tokens per sample, [CLS] included (cut or padded)"),
  testFraction: z.number().min(0).max(0.9).default(0.2).describe("fraction of lines held out (seeded)"),
  limit: z.number().int().positive().optional().describe("use at most this many lines"),
});

class LabelledLines implements DatasetSplit {
  readonly size: number;
  constructor(
    private readonly lines: string[],
    private readonly labels: number[],
    private readonly tokenizer: Tokenizer,
    private readonly seqLen: number,
  ) {
    this.size = lines.length;
  }
  async get(i: number): Promise<Sample> {
    if (!Number.isInteger(i) || i < 0 || i >= this.size)
      throw new RangeError(`topics-corpus: index ${i} is out of range [0, ${this.size})`);
    return {
      data: this.tokenizer.encode(this.lines[i] as string, this.seqLen),
      label: this.labels[i] as number,
    };
  }
}

export interface TopicsCorpus extends Dataset {
  readonly tokenizer: Tokenizer;
  decode(ids: ArrayLike<number>): string;
}

/** Loads the shipped corpus as a labelled text dataset (train / seeded test split). */
export function loadTopicsCorpus(options: z.input<typeof topicsCorpusOptions> = {}): TopicsCorpus {
  const opts = topicsCorpusOptions.parse(options);
  const dir = shippedCorpusDir();
  let lines: string[];
  let labels: number[];
  try {
    lines = readFileSync(join(dir, "topics.txt"), "utf8")
      .split("\n")
      .filter((l) => l.length > 0);
    labels = readFileSync(join(dir, "topics.labels"), "utf8")
      .split("\n")
      .filter((l) => l.length > 0)
      .map(Number);
  } catch (err) {
    throw new DatasetError(
      `topics-corpus: cannot read the shipped corpus in ${dir}: ${(err as Error).message}`,
    );
  }
  if (lines.length !== labels.length)
    throw new DatasetError(`topics-corpus: ${dir} has ${lines.length} lines but ${labels.length} labels`);
  if (opts.limit !== undefined) {
    lines = lines.slice(0, opts.limit);
    labels = labels.slice(0, opts.limit);
  }
  const order = new Rng(1810_04805).shuffle(lines.map((_, i) => i));
  const nTest = Math.round(lines.length * opts.testFraction);
  const testRows = order.slice(0, nTest).sort((a, b) => a - b);
  const trainRows = order.slice(nTest).sort((a, b) => a - b);
  const tokenizer = Tokenizer.fromCorpus(
    trainRows.map((i) => lines[i] as string),
    { level: opts.tokenizer },
  );
  const split = (rows: number[]) =>
    new LabelledLines(
      rows.map((i) => lines[i] as string),
      rows.map((i) => labels[i] as number),
      tokenizer,
      opts.seqLen,
    );
  return {
    name: "topics-corpus",
    input: { kind: "text", vocabSize: tokenizer.size, seqLen: opts.seqLen },
    numClasses: TOPIC_NAMES.length,
    classNames: [...TOPIC_NAMES],
    train: split(trainRows),
    ...(nTest > 0 ? { test: split(testRows) } : {}),
    tokenizer,
    decode: (ids) => tokenizer.decode(ids),
  };
}

export const topicsCorpusDataset = defineDataset({
  name: "topics-corpus",
  description:
    "4,000 generated English sentences on 4 topics, shipped with @selfsup/method-mim (MLM with no download; labels for a text probe)",
  options: topicsCorpusOptions,
  load: async (opts) => loadTopicsCorpus(opts),
});
