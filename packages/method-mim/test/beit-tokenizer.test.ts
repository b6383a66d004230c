import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rng, tf } from "@selfsup/core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type BeitTokenizer,
  codebookPerplexity,
  loadPatchTokenizer,
  resolveTokenizerCheckpoint,
  VectorQuantizer,
} from "../src/index.js";
import { createMethod, IMAGE16, setupBackend, stepContext, trainTinyTokenizer } from "./helpers.js";
import { barImages } from "./synthetic.js";

beforeAll(setupBackend);
const disposables: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const d of disposables.splice(0)) d.dispose();
});
const tmp = mkdtempSync(join(tmpdir(), "selfsup-beit-tokenizer-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const close = (got: number[][], want: number[][]) => {
  got.forEach((row, i) => {
    row.forEach((v, j) => {
      expect(v).toBeCloseTo(want[i]![j]!, 5);
    });
  });
};

describe("vector quantiser", () => {
  // codes e0 = (0,0), e1 = (1,1), e2 = (4,4); rows pick e1, e2, e0
  const E = [
    [0, 0],
    [1, 1],
    [4, 4],
  ];
  const Z = [
    [0.9, 1.2],
    [3.5, 4.4],
    [0.1, -0.2],
  ];
  const W = [
    [1, 2],
    [3, 4],
    [5, 6],
  ];

  function quantizer(): VectorQuantizer {
    const vq = new VectorQuantizer(3, 2, new Rng(0));
    vq.codebook.assign(tf.tensor2d(E));
    disposables.push(vq);
    return vq;
  }

  it("picks the nearest code and passes gradients straight through to the encoder output", () => {
    const vq = quantizer();
    const z = tf.tensor2d(Z);
    const w = tf.tensor2d(W);
    const q = vq.quantize(z);
    expect(Array.from(q.indices.dataSync())).toEqual([1, 2, 0]);
    close(q.zq.arraySync(), [E[1]!, E[2]!, E[0]!]); // forward: the codes
    expect(Array.from(q.counts.dataSync())).toEqual([1, 1, 1]);
    tf.dispose([q.indices, q.zq, q.codebookLoss, q.commitLoss, q.counts]);
    // d/dz sum(w * z_st) = w exactly (straight-through); the codebook gets nothing from this path
    const dz = tf.grad((zz: tf.Tensor) => tf.sum(tf.mul(w, vq.quantize(zz).zq)))(z);
    close(dz.arraySync() as number[][], W);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(w, vq.quantize(z).zq)) as tf.Scalar,
      [vq.codebook],
    );
    const g = grads[vq.codebook.name];
    if (g)
      close(g.arraySync() as number[][], [
        [0, 0],
        [0, 0],
        [0, 0],
      ]);
    tf.dispose([z, w, dz, ...Object.values(grads)]);
  });

  it("codebook loss moves each code toward its rows; commitment loss moves rows toward their codes (hand check)", () => {
    const vq = quantizer();
    const z = tf.tensor2d(Z);
    // codebook loss = mean over 3x2 of (sg(z) - e_k)^2: dL/de_k = -(2/6) sum_{rows of k} (z - e_k)
    const { grads } = tf.variableGrads(() => vq.quantize(z).codebookLoss, [vq.codebook]);
    const want = E.map((e, k) => {
      const row = [1, 2, 0].indexOf(k);
      return e.map((v, j) => (-2 / 6) * (Z[row]![j]! - v));
    });
    close(grads[vq.codebook.name]!.arraySync() as number[][], want);
    // commitment = mean (z - sg(e))^2: dL/dz = (2/6)(z - e_k(z)), and nothing reaches the codebook
    const dz = tf.grad((zz: tf.Tensor) => vq.quantize(zz).commitLoss)(z);
    const q = [E[1]!, E[2]!, E[0]!];
    close(
      dz.arraySync() as number[][],
      Z.map((r, i) => r.map((v, j) => (2 / 6) * (v - q[i]![j]!))),
    );
    tf.dispose([z, dz, ...Object.values(grads)]);
  });

  it("codebook perplexity is K for even use and 1 for collapse", () => {
    expect(codebookPerplexity([5, 5, 5, 5])).toBeCloseTo(4, 6);
    expect(codebookPerplexity([0, 9, 0, 0])).toBeCloseTo(1, 6);
  });
});

describe("beit-tokenizer", () => {
  it("cuts the run's ViT's patches unless told otherwise (BEiT predicts one token per ViT patch)", () => {
    const on = (backbone: { name: string; options?: Record<string, unknown> }, options = {}) => {
      const m = createMethod<BeitTokenizer>("beit-tokenizer", backbone, { kind: "kmeans", ...options });
      disposables.push(m);
      return m.tokenizer.spec.patchSize;
    };
    expect(on({ name: "vit-tiny", options: { patchSize: 8, dim: 16, depth: 1, heads: 2 } })).toBe(8);
    expect(
      on({ name: "vit-tiny", options: { patchSize: 8, dim: 16, depth: 1, heads: 2 } }, { patchSize: 4 }),
    ).toBe(4);
    expect(on({ name: "convnet" })).toBe(4);
  });

  it("re-seeds dead codes onto encoder outputs of the batch", () => {
    const m = createMethod<BeitTokenizer>(
      "beit-tokenizer",
      { name: "convnet" },
      { kind: "kmeans", codebookSize: 8, reseedEvery: 3 },
    );
    disposables.push(m);
    const ctx = stepContext(m, { lr: 1e-2 });
    disposables.push(ctx);
    const x = barImages(16, 0);
    m.trainStep({ inputs: x, views: [] }, ctx); // data-dependent init
    // push code 7 far away, where no patch will choose it
    m.tokenizer.vq.codebook.assign(
      tf.tidy(() =>
        tf.concat([tf.slice(m.tokenizer.vq.codebook, [0, 0], [7, 16]), tf.fill([1, 16], 100)], 0),
      ),
    );
    let reseeded = 0;
    for (let s = 1; s < 60 && reseeded === 0; s++) {
      ctx.step = s;
      reseeded += m.trainStep({ inputs: x, views: [] }, ctx).metrics.reseededCodes ?? 0;
    }
    expect(reseeded).toBeGreaterThan(0);
    const code7 = (m.tokenizer.vq.codebook.arraySync() as number[][])[7] as number[];
    expect(Math.max(...code7)).toBeLessThanOrEqual(1); // now a patch of pixels in [0, 1]
    x.dispose();
  });

  it.each(["vqvae", "kmeans"] as const)(
    "%s: codebook loss falls and codes are used (perplexity > 1)",
    (kind) => {
      const m = createMethod<BeitTokenizer>(
        "beit-tokenizer",
        { name: "convnet" },
        { kind, codebookSize: 16 },
      );
      disposables.push(m);
      const ctx = stepContext(m, { lr: 1e-2 });
      disposables.push(ctx);
      const out: Array<{ loss: number; metrics: Record<string, number> }> = [];
      for (let s = 0; s < 30; s++) {
        ctx.step = s;
        const x = barImages(16, s);
        out.push(m.trainStep({ inputs: x, views: [] }, ctx));
        x.dispose();
      }
      const mean = (a: number[]) => a.reduce((p, v) => p + v, 0) / a.length;
      expect(mean(out.slice(-5).map((o) => o.loss))).toBeLessThan(mean(out.slice(1, 6).map((o) => o.loss)));
      expect(out.at(-1)!.metrics.codebookPerplexity).toBeGreaterThan(2);
    },
  );

  it("its checkpoint loads back as a tokenizer giving the same tokens, by run directory or checkpoint", async () => {
    const runDir = join(tmp, "run-a");
    await trainTinyTokenizer(runDir, IMAGE16, {}, 6);
    const ckpt = resolveTokenizerCheckpoint(runDir);
    expect(ckpt).toMatch(/checkpoints[/\\]step-00000006$/);
    const a = loadPatchTokenizer(runDir).tokenizer;
    const b = loadPatchTokenizer(ckpt).tokenizer;
    disposables.push(a, b);
    const x = barImages(4, 3);
    const ta = a.tokenize(x);
    const tb = b.tokenize(x);
    expect(ta.shape).toEqual([4, 16]);
    expect(Array.from(ta.dataSync())).toEqual(Array.from(tb.dataSync()));
    tf.dispose([x, ta, tb]);
  });

  it("says what is wrong with a path that holds no tokenizer", () => {
    expect(() => loadPatchTokenizer(join(tmp, "nowhere"))).toThrow(/selfsup train --method beit-tokenizer/);
  });
});
