import { fromPatches, Rng, tf, toPatches } from "@selfsup/core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type MAE, normalizePatches } from "../src/index.js";
import { createMethod, recordTokenShapes, setupBackend, stepContext, tinyViT } from "./helpers.js";
import { barImages } from "./synthetic.js";

beforeAll(setupBackend);
const disposables: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const d of disposables.splice(0)) d.dispose();
});

function mae(options: Record<string, unknown> = {}): MAE {
  const m = createMethod<MAE>("mae", tinyViT("remove"), options);
  disposables.push(m);
  return m;
}

describe("mae", () => {
  it("draws a fresh mask per sample with exactly round(0.75 N) masked patches", () => {
    const m = mae();
    const mask = m.drawMask(8, new Rng(3));
    const rows = mask.arraySync() as number[][];
    mask.dispose();
    for (const r of rows) expect(r.reduce((a, b) => a + b, 0)).toBe(12); // 16 patches of 4x4 on 16x16
    expect(new Set(rows.map((r) => r.join(""))).size).toBeGreaterThan(1);
  });

  it("the encoder receives only the visible patches (shape) and never sees the masked pixels", () => {
    const m = mae();
    const x = barImages(4, 0);
    const mask = m.drawMask(4, new Rng(5));
    const seen = recordTokenShapes(m.vit);
    const latent = tf.tidy(() => m.vit.forward(x, { mask, tokens: true }));
    const pred = m.predict(x, mask);
    expect(seen[0]).toEqual([4, 1 + 4, 16]); // class token + 4 visible patches of 16, width 16
    expect(latent.shape).toEqual([4, 5, 16]);
    expect(pred.shape).toEqual([4, 16, 16]); // every patch predicted: 4x4x1 values
    // changing the pixels of masked patches leaves the encoder output unchanged
    const noisy = tf.tidy(() => {
      const pixels = fromPatches(tf.tile(tf.expandDims(mask, 2), [1, 1, 16]), 4, 16, 16); // 1 on masked pixels
      return tf.add(x, tf.mul(pixels, tf.randomUniform([4, 16, 16, 1], 0, 1, "float32", 7)));
    });
    const latent2 = tf.tidy(() => m.vit.forward(noisy, { mask, tokens: true }));
    expect(tf.max(tf.abs(tf.sub(latent, latent2))).dataSync()[0]).toBe(0);
    // ...while changing a visible patch changes it
    const other = tf.tidy(() => m.vit.forward(tf.add(x, 0.3), { mask, tokens: true }));
    expect(tf.max(tf.abs(tf.sub(latent, other))).dataSync()[0]).toBeGreaterThan(1e-4);
    tf.dispose([x, mask, latent, latent2, pred, noisy, other]);
  });

  it("takes the loss on masked patches only, against per-patch normalised pixels by default", () => {
    const m = mae({ normPixLoss: true });
    const x = barImages(4, 1);
    const mask = m.drawMask(4, new Rng(2));
    const loss = m.loss(x, mask).dataSync()[0] as number;
    const manual = tf.tidy(() => {
      const target = normalizePatches(toPatches(x, 4));
      const se = tf.mean(tf.square(tf.sub(m.predict(x, mask), target)), -1);
      return tf.div(tf.sum(tf.mul(se, mask)), tf.sum(mask)).dataSync()[0] as number;
    });
    expect(loss).toBeCloseTo(manual, 5);
    const t = tf.tidy(() => tf.moments(normalizePatches(toPatches(x, 4)), -1));
    expect(Math.max(...(tf.abs(t.mean).dataSync() as Float32Array))).toBeLessThan(1e-4);
    tf.dispose([x, mask, t.mean, t.variance]);
  });

  it("reconstruction loss falls on synthetic bar images", () => {
    const m = mae({ normPixLoss: false });
    const ctx = stepContext(m, { lr: 3e-3 });
    disposables.push(ctx);
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const x = barImages(16, i);
      losses.push(m.trainStep({ inputs: x, views: [] }, ctx).loss);
      x.dispose();
    }
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-10))).toBeLessThan(0.5 * mean(losses.slice(0, 10)));
  });

  it("refuses a backbone that is not vit-tiny in maskMode remove, saying how to fix it", () => {
    expect(() => createMethod("mae", tinyViT("token"))).toThrow(/maskMode "remove"/);
  });
});
