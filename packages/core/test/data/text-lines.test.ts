import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLS_ID,
  loadTextLines,
  MASK_ID,
  PAD_ID,
  SPECIAL_TOKENS,
  Tokenizer,
  UNK_ID,
} from "../../src/data/index.js";

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "selfsup-text-"));
  await writeFile(join(dir, "corpus.txt"), "the cat sat.\nthe dog ran\n\nthe cat ran, fast!\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("tokenizer", () => {
  it("puts the special tokens first and numbers tokens by frequency", () => {
    const tok = Tokenizer.fromCorpus(["b a a", "a c"], { level: "word" });
    expect(tok.vocab.slice(0, 4)).toEqual([...SPECIAL_TOKENS]);
    expect([PAD_ID, UNK_ID, CLS_ID, MASK_ID]).toEqual([0, 1, 2, 3]);
    expect(tok.vocab.slice(4)).toEqual(["a", "b", "c"]);
    expect(Array.from(tok.encode("a zebra c", 6))).toEqual([CLS_ID, 4, UNK_ID, 6, PAD_ID, PAD_ID]);
    expect(Array.from(tok.encode("a b c a b", 4))).toEqual([CLS_ID, 4, 5, 6]);
  });
});

describe("text-lines", () => {
  it("word level: vocab, encode with [CLS] and padding, decode", async () => {
    const ds = await loadTextLines({ path: join(dir, "corpus.txt"), tokenizer: "word", seqLen: 8 });
    expect(ds.train.size).toBe(3); // the empty line is dropped
    expect(ds.tokenizer.vocab[4]).toBe("the");
    expect(ds.input).toEqual({ kind: "text", vocabSize: ds.tokenizer.size, seqLen: 8 });
    const s = await ds.train.get(2);
    expect(s.data).toBeInstanceOf(Int32Array);
    expect(s.data.length).toBe(8);
    expect(s.data[0]).toBe(CLS_ID);
    expect(ds.decode(s.data)).toBe("the cat ran, fast!");
    const short = await ds.train.get(1);
    expect(Array.from(short.data.slice(4))).toEqual([PAD_ID, PAD_ID, PAD_ID, PAD_ID]);
  });

  it("char level truncates to seqLen and round-trips", async () => {
    const ds = await loadTextLines({ path: join(dir, "corpus.txt"), seqLen: 6 });
    const s = await ds.train.get(0);
    expect(ds.decode(s.data)).toBe("the c");
    expect(ds.tokenizer.vocab).toContain(" ");
  });

  it("names a missing file", async () => {
    await expect(loadTextLines({ path: join(dir, "missing.txt") })).rejects.toThrow(
      /missing\.txt does not exist/,
    );
  });
});
