import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blockwiseMaskValues, Rng } from "@selfsup/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { BEiT } from "../src/index.js";
import { createMethod, IMAGE16, setupBackend, stepContext, tinyViT, trainTinyTokenizer } from "./helpers.js";
import { barImages } from "./synthetic.js";

const tmp = mkdtempSync(join(tmpdir(), "selfsup-beit-"));
const tokenizerRun = join(tmp, "tokenizer");
beforeAll(async () => {
  await setupBackend();
  await trainTinyTokenizer(tokenizerRun, IMAGE16, {}, 20);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const disposables: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const d of disposables.splice(0)) d.dispose();
});

describe("beit", () => {
  it("without a tokenizer, says how to make one", () => {
    expect(() => createMethod("beit", tinyViT("token"))).toThrow(
      /beit needs a visual tokenizer.*selfsup train --method beit-tokenizer/,
    );
  });

  it("refuses a tokenizer trained with another patch size, saying which", async () => {
    const run = join(tmp, "patch8");
    await trainTinyTokenizer(run, IMAGE16, { patchSize: 8 }, 2);
    expect(() => createMethod("beit", tinyViT("token"), { tokenizer: run })).toThrow(
      /8px patches.*patchSize=4/,
    );
  });

  it("masks blocks of about 40% of a 14x14 grid (rectangles, not scattered patches)", () => {
    const rng = new Rng(0);
    let total = 0;
    let withNeighbour = 0;
    const draws = 200;
    for (let d = 0; d < draws; d++) {
      const m = blockwiseMaskValues(rng, 14, 14, { ratio: 0.4, minPatches: 16 });
      const count = m.reduce((a, b) => a + b, 0);
      expect(count).toBeLessThanOrEqual(Math.round(0.4 * 196));
      total += count;
      // block-wise: masked patches come in rectangles, so nearly all have a masked 4-neighbour (the
      // last block may be a single patch when the remaining budget is 1, as in the reference code)
      for (let i = 0; i < 14; i++) {
        for (let j = 0; j < 14; j++) {
          if (!m[i * 14 + j]) continue;
          const nb = [
            [i - 1, j],
            [i + 1, j],
            [i, j - 1],
            [i, j + 1],
          ].some(([a, b]) => a! >= 0 && a! < 14 && b! >= 0 && b! < 14 && m[a! * 14 + b!] === 1);
          if (nb) withNeighbour++;
        }
      }
    }
    expect(withNeighbour / total).toBeGreaterThan(0.97);
    expect(total / draws / 196).toBeGreaterThan(0.36);
    expect(total / draws / 196).toBeLessThanOrEqual(0.4);
  });

  it("draws [B, N] block masks over the ViT's grid and learns to predict the visual tokens", () => {
    const m = createMethod<BEiT>("beit", tinyViT("token"), { tokenizer: tokenizerRun });
    disposables.push(m);
    const mask = m.drawMask(8, new Rng(1));
    expect(mask.shape).toEqual([8, 16]);
    const counts = (mask.arraySync() as number[][]).map((r) => r.reduce((a, b) => a + b, 0));
    for (const c of counts) expect(c).toBeGreaterThan(0);
    for (const c of counts) expect(c).toBeLessThanOrEqual(Math.round(0.4 * 16));
    mask.dispose();
    const ctx = stepContext(m, { lr: 3e-3 });
    disposables.push(ctx);
    const losses: number[] = [];
    for (let s = 0; s < 30; s++) {
      const x = barImages(16, s);
      losses.push(m.trainStep({ inputs: x, views: [] }, ctx).loss);
      x.dispose();
    }
    const mean = (a: number[]) => a.reduce((p, v) => p + v, 0) / a.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)));
    // the tokenizer is frozen: not among the trainable variables
    const tokVars = new Set(m.tokenizer.trainableVariables());
    expect(m.trainableVariables().some((v) => tokVars.has(v))).toBe(false);
  });
});
