import { CLS_ID, MASK_ID, PAD_ID, Rng, tf } from "@selfsup/core";
import { tinyTextDataset } from "@selfsup/core/testing";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  corruptTokens,
  FIRST_ORDINARY_ID,
  type MLM,
  MLM_KEPT,
  MLM_MASKED,
  MLM_RANDOM,
} from "../src/index.js";
import { createMethod, setupBackend, stepContext, tinyText } from "./helpers.js";

beforeAll(setupBackend);
const disposables: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const d of disposables.splice(0)) d.dispose();
});

describe("the 80/10/10 rule", () => {
  it("selects 15% of ordinary tokens, of which 80% [MASK], 10% random, 10% unchanged, over many draws", () => {
    const rng = new Rng(11);
    const vocab = 50;
    const n = 200_000;
    const ids = Int32Array.from({ length: n }, (_, i) =>
      i % 20 === 0 ? CLS_ID : i % 20 === 19 ? PAD_ID : 4 + rng.int(vocab - 4),
    );
    const ordinary = ids.filter((id) => id >= FIRST_ORDINARY_ID).length;
    const c = corruptTokens(ids, vocab, new Rng(12));
    let selected = 0;
    const kinds = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      if (c.selected[i] === 1) {
        selected++;
        kinds[c.kind[i] as number]! += 1;
        expect(ids[i]).toBeGreaterThanOrEqual(FIRST_ORDINARY_ID); // specials never selected
      } else {
        expect(c.inputs[i]).toBe(ids[i]); // unselected tokens untouched
      }
      if (c.kind[i] === MLM_MASKED) expect(c.inputs[i]).toBe(MASK_ID);
      if (c.kind[i] === MLM_RANDOM) expect(c.inputs[i]).toBeGreaterThanOrEqual(FIRST_ORDINARY_ID);
      if (c.kind[i] === MLM_KEPT) expect(c.inputs[i]).toBe(ids[i]);
    }
    // binomial standard errors: 15% of 180k ~ 0.08%, 80% of 27k ~ 0.24%, 10% of 27k ~ 0.18%
    expect(selected / ordinary).toBeCloseTo(0.15, 2);
    expect(Math.abs(kinds[MLM_MASKED]! / selected - 0.8)).toBeLessThan(0.01);
    expect(Math.abs(kinds[MLM_RANDOM]! / selected - 0.1)).toBeLessThan(0.01);
    expect(Math.abs(kinds[MLM_KEPT]! / selected - 0.1)).toBeLessThan(0.01);
  });

  it("rejects proportions that do not add up", () => {
    expect(() => corruptTokens([5, 6], 10, new Rng(0), { maskProb: 0.9, randomProb: 0.2 })).toThrow(
      /sum to at most 1/,
    );
  });
});

describe.each(["text-transformer", "lstm"] as const)("mlm on %s", (backbone) => {
  it("takes the loss on the selected tokens only", () => {
    const m = createMethod<MLM>("mlm", tinyText(backbone), {}, { kind: "text", vocabSize: 32, seqLen: 16 });
    disposables.push(m);
    const ids = tf.tensor2d(
      Int32Array.from({ length: 4 * 16 }, (_, i) => 4 + ((i * 7) % 28)),
      [4, 16],
      "int32",
    );
    const c = m.corrupt(ids, new Rng(1));
    const manual = tf.tidy(() => {
      const logp = tf.logSoftmax(m.logits(c.inputs, c.masked));
      const nll = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(ids, 32)), -1));
      return (
        (tf.sum(tf.mul(nll, c.selected)).dataSync()[0] as number) /
        (tf.sum(c.selected).dataSync()[0] as number)
      );
    });
    tf.dispose([c.inputs, c.selected, c.masked]);
    const ctx = stepContext(m, { lr: 0, seed: 1 });
    disposables.push(ctx);
    const out = m.trainStep({ inputs: ids, views: [] }, ctx);
    expect(out.loss).toBeCloseTo(manual, 4);
    expect(out.metrics.perplexity).toBeCloseTo(Math.exp(manual), 2);
    ids.dispose();
  });

  it("learns: loss falls and masked-token accuracy beats chance on motif sequences", async () => {
    const data = tinyTextDataset({ vocabSize: 32, seqLen: 16, size: 256 });
    const m = createMethod<MLM>("mlm", tinyText(backbone), { selectProb: 0.3 }, data.input);
    disposables.push(m);
    const ctx = stepContext(m, { lr: 1e-2 });
    disposables.push(ctx);
    const rows: Int32Array[] = [];
    for (let i = 0; i < data.train.size; i++) rows.push((await data.train.get(i)).data as Int32Array);
    const losses: number[] = [];
    for (let s = 0; s < 40; s++) {
      const batch = rows.slice((s * 16) % 256, ((s * 16) % 256) + 16);
      const flat = new Int32Array(16 * 16);
      batch.forEach((r, i) => {
        flat.set(r, i * 16);
      });
      const x = tf.tensor2d(flat, [16, 16], "int32");
      losses.push(m.trainStep({ inputs: x, views: [] }, ctx).loss);
      x.dispose();
    }
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)));
    const ev = await m.evaluate(data.train, new Rng(9), 64);
    expect(ev.tokens).toBeGreaterThan(100);
    expect(ev.maskedAccuracy).toBeGreaterThan(2 / 32);
    expect(ev.perplexity).toBeLessThan(32);
  });
});
