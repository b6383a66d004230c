import { initBackend, Rng, registerCoreGradients, tf } from "@selfsup/core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadTopicsCorpus, type MLM, mimPlugin } from "../src/index.js";
import { createMethod, stepContext, tinyText } from "./helpers.js";

// wasm: MLM's vocabulary-wide softmax over 24-token sentences is ~10x slower on the cpu backend
beforeAll(async () => {
  await initBackend("wasm");
  registerCoreGradients();
});
const disposables: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const d of disposables.splice(0)) d.dispose();
});

describe("the shipped topics corpus", () => {
  it("loads with no download as a labelled word-level dataset with a held-out split", async () => {
    const data = loadTopicsCorpus();
    expect(data.train.size).toBe(3200);
    expect(data.test?.size).toBe(800);
    expect(data.numClasses).toBe(4);
    expect(data.input).toMatchObject({ kind: "text", seqLen: 24 });
    expect(data.tokenizer.size).toBeLessThan(400);
    const s = await data.train.get(0);
    expect(s.label).toBeGreaterThanOrEqual(0);
    expect(s.label).toBeLessThan(4);
    expect(data.decode(s.data)).toMatch(/\.$/);
    expect(mimPlugin.datasets?.map((d) => d.name)).toContain("topics-corpus");
  });

  it("mlm trains on it: the loss falls and held-out masked accuracy beats the most frequent token", async () => {
    const data = loadTopicsCorpus({ limit: 800 });
    const m = createMethod<MLM>("mlm", tinyText("text-transformer"), {}, data.input);
    disposables.push(m);
    const ctx = stepContext(m, { lr: 1e-2 });
    disposables.push(ctx);
    const t = data.input.kind === "text" ? data.input.seqLen : 0;
    const losses: number[] = [];
    for (let s = 0; s < 150; s++) {
      const flat = new Int32Array(32 * t);
      for (let i = 0; i < 32; i++)
        flat.set((await data.train.get((s * 32 + i) % data.train.size)).data as Int32Array, i * t);
      const x = tf.tensor2d(flat, [32, t], "int32");
      losses.push(m.trainStep({ inputs: x, views: [] }, ctx).loss);
      x.dispose();
    }
    const mean = (a: number[]) => a.reduce((p, v) => p + v, 0) / a.length;
    expect(mean(losses.slice(-5))).toBeLessThan(0.8 * mean(losses.slice(0, 5)));
    const ev = await m.evaluate(data.test!, new Rng(0));
    expect(ev.maskedAccuracy).toBeGreaterThan(0.18); // always guessing "the" scores 15%
    expect(ev.perplexity).toBeLessThan(data.tokenizer.size / 4);
  });
});
