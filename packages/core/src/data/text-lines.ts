/**
 * A text corpus, one sample per line, as token ids [seqLen] for masked language modelling (BERT,
 * Devlin et al. 2019) or other text SSL. The tokenizer (char- or word-level) is built from the
 * training lines; see tokenizer.ts for the fixed special-token ids.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { z } from "zod";
import { defineDataset } from "../plugin/define-plugin.js";
import type { Dataset, InputSpec, Sample } from "../plugin/types.js";
import { Rng } from "../rng.js";
import { checkIndex, DatasetError, type ShapedSplit } from "./split.js";
import { Tokenizer } from "./tokenizer.js";

/** Seed of the train/test split of lines (when `testFraction` > 0). */
export const TEXT_SPLIT_SEED = 1810_04805;

export const textLinesOptions = z.object({
  /** The text file (UTF-8), one sample per line. */
  path: z.string().min(1).default("data/corpus.txt"),
  tokenizer: z.enum(["char", "word"]).default("char"),
  /** Tokens per sample, [CLS] included: longer lines are cut, shorter ones padded with [PAD]. */
  seqLen: z.number().int().min(2).default(64),
  lowercase: z.boolean().default(false),
  /** Tokens seen fewer times in the training lines become [UNK]. */
  minFreq: z.number().int().min(1).default(1),
  /** Largest vocabulary, special tokens included. */
  maxVocab: z.number().int().min(5).optional(),
  /** Start every sample with [CLS]. */
  cls: z.boolean().default(true),
  /** Fraction of lines held out as the test split (seeded, fixed). */
  testFraction: z.number().min(0).max(0.9).default(0),
  /** Use at most this many lines (before splitting). */
  limit: z.number().int().positive().optional(),
});

/** Lines encoded on read. */
export class TextLinesSplit implements ShapedSplit {
  readonly size: number;

  constructor(
    private readonly what: string,
    readonly input: InputSpec & { kind: "text" },
    readonly lines: readonly string[],
    private readonly tokenizer: Tokenizer,
    private readonly cls: boolean,
  ) {
    this.size = lines.length;
  }

  async get(index: number): Promise<Sample> {
    checkIndex(this.what, index, this.size);
    return { data: this.tokenizer.encode(this.lines[index]!, this.input.seqLen, this.cls) };
  }
}

export interface TextLinesDataset extends Dataset {
  readonly tokenizer: Tokenizer;
  readonly train: TextLinesSplit;
  readonly test?: TextLinesSplit;
  decode(ids: ArrayLike<number>): string;
}

/** Loads a text file (options validated by `textLinesOptions`); typed access to `tokenizer` and `decode`. */
export async function loadTextLines(
  options: z.input<typeof textLinesOptions> = {},
): Promise<TextLinesDataset> {
  const opts = textLinesOptions.parse(options);
  const file = resolve(opts.path);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DatasetError(
      code === "ENOENT"
        ? `text-lines: ${file} does not exist`
        : `text-lines: cannot read ${file}: ${(err as Error).message}`,
    );
  }
  if (text.includes("\u0000"))
    throw new DatasetError(`text-lines: ${file} contains NUL bytes; it looks binary, not text`);
  let lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines.length === 0) throw new DatasetError(`text-lines: ${file} has no non-empty lines`);
  if (opts.limit !== undefined) lines = lines.slice(0, opts.limit);
  let train = lines;
  let test: string[] = [];
  if (opts.testFraction > 0) {
    const order = new Rng(TEXT_SPLIT_SEED).shuffle(lines.map((_, i) => i));
    const nTest = Math.round(lines.length * opts.testFraction);
    const testRows = new Set(order.slice(0, nTest));
    train = lines.filter((_, i) => !testRows.has(i));
    test = lines.filter((_, i) => testRows.has(i));
  }
  const tokenizer = Tokenizer.fromCorpus(train, {
    level: opts.tokenizer,
    lowercase: opts.lowercase,
    minFreq: opts.minFreq,
    ...(opts.maxVocab !== undefined ? { maxVocab: opts.maxVocab } : {}),
  });
  const input = { kind: "text" as const, vocabSize: tokenizer.size, seqLen: opts.seqLen };
  return {
    name: "text-lines",
    input,
    tokenizer,
    train: new TextLinesSplit(`text-lines ${opts.path} train`, input, train, tokenizer, opts.cls),
    ...(test.length > 0
      ? { test: new TextLinesSplit(`text-lines ${opts.path} test`, input, test, tokenizer, opts.cls) }
      : {}),
    decode: (ids) => tokenizer.decode(ids),
  };
}

export const textLines = defineDataset({
  name: "text-lines",
  description: "A text file, one sample per line, char- or word-level tokens padded/cut to seqLen",
  options: textLinesOptions,
  load: (opts) => loadTextLines(opts),
});
