import { beforeAll, describe, expect, it } from "vitest";
import {
  blockwiseMask,
  blockwiseMaskValues,
  fromPatches,
  jigsaw,
  jigsawAssemble,
  jigsawPermutations,
  jigsawShuffle,
  maeMask,
  maskPatches,
  randomMask,
  toPatches,
} from "../../src/augment/index.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { maxAbsDiff, testImages, useBackend } from "./helpers.js";

beforeAll(async () => useBackend("wasm"));

describe("toPatches / fromPatches", () => {
  it("round-trips and orders patches row-major with (row, col, channel) inside", () => {
    const x = testImages(2, 8, 12, 3);
    const p = toPatches(x, 4);
    expect(p.shape).toEqual([2, 6, 48]);
    // patch 1 (top row, second column) starts at pixel (0, 4)
    expect(Array.from(tf.slice(p, [0, 1, 0], [1, 1, 3]).dataSync())).toEqual(
      Array.from(tf.slice(x, [0, 0, 4, 0], [1, 1, 1, 3]).dataSync()),
    );
    const back = fromPatches(p, 4, 8, 12);
    expect(maxAbsDiff(back, x)).toBe(0);
    tf.dispose([x, p, back]);
  });

  it("refuses sizes that are not multiples of the patch size", () => {
    const x = testImages(1, 10, 10, 1);
    expect(() => toPatches(x, 4)).toThrow(/10x10 image does not split into 4x4 patches/);
    x.dispose();
  });
});

describe("jigsaw (Noroozi & Favaro)", () => {
  it("builds a fixed, well-spread permutation set starting with the identity", () => {
    const perms = jigsawPermutations(30);
    expect(perms).toHaveLength(30);
    expect(perms[0]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Set(perms.map((p) => p.join())).size).toBe(30);
    expect(jigsawPermutations(30)).toEqual(perms);
    let minDist = 9;
    for (let i = 0; i < perms.length; i++)
      for (let j = i + 1; j < perms.length; j++)
        minDist = Math.min(minDist, perms[i]!.filter((v, k) => v !== perms[j]![k]).length);
    expect(minDist).toBeGreaterThanOrEqual(7);
  });

  it("shuffles tiles by a recoverable permutation", () => {
    const perms = jigsawPermutations(10);
    const x = testImages(4, 9, 9, 3);
    const { tiles, permutation } = jigsawShuffle(x, new Rng(3), { permutations: perms });
    expect(tiles.shape).toEqual([4, 9, 3, 3, 3]);
    expect(permutation.every((p) => p >= 0 && p < 10)).toBe(true);
    // tile 0 of sample 0 is source tile perms[permutation[0]][0]
    const src = perms[permutation[0]!]![0]!;
    const expected = tf.slice(x, [0, Math.floor(src / 3) * 3, (src % 3) * 3, 0], [1, 3, 3, 3]);
    expect(
      maxAbsDiff(tf.reshape(tf.slice(tiles, [0, 0, 0, 0, 0], [1, 1, 3, 3, 3]), [1, 3, 3, 3]), expected),
    ).toBe(0);
    const back = jigsawAssemble(tiles, perms, permutation);
    expect(maxAbsDiff(back, x)).toBe(0);
    const again = jigsawShuffle(x, new Rng(3), { permutations: perms });
    expect(again.permutation).toEqual(permutation);
    tf.dispose([x, tiles, back, expected, again.tiles]);
  });

  it("with jitter cuts smaller tiles, and as an augmentation keeps the image size", () => {
    const x = testImages(2, 30, 30, 1);
    const { tiles } = jigsawShuffle(x, new Rng(1), { permutations: jigsawPermutations(5), jitter: 2 });
    expect(tiles.shape).toEqual([2, 9, 8, 8, 1]);
    const y = jigsaw.create(jigsaw.options.parse({ permutations: 5 })).apply(x, new Rng(1));
    expect(y.shape).toEqual([2, 30, 30, 1]);
    tf.dispose([x, tiles, y]);
  });
});

describe("mask generators", () => {
  it("MAE: exactly round(0.75 N) masked per row, kept indices are the unmasked ones", () => {
    const n = 49;
    const { mask, keep, restore } = maeMask(new Rng(5), 6, n);
    expect(mask.shape).toEqual([6, n]);
    expect(keep.shape).toEqual([6, n - Math.round(0.75 * n)]);
    const m = mask.arraySync();
    const k = keep.arraySync();
    const r = restore.arraySync();
    for (let b = 0; b < 6; b++) {
      expect(m[b]!.reduce((a, v) => a + v, 0)).toBe(Math.round(0.75 * n));
      for (const i of k[b]!) expect(m[b]![i]).toBe(0);
      expect(new Set(r[b]).size).toBe(n);
      k[b]!.forEach((patch, pos) => {
        expect(r[b]![patch]).toBe(pos);
      });
    }
    expect(m[0]).not.toEqual(m[1]);
    const again = maeMask(new Rng(5), 6, n);
    expect(again.mask.arraySync()).toEqual(m);
    tf.dispose([mask, keep, restore, again.mask, again.keep, again.restore]);
  });

  it("BEiT block-wise: ratio near the target, masked patches form blocks", () => {
    const rng = new Rng(2);
    let total = 0;
    const trials = 20;
    for (let t = 0; t < trials; t++) {
      const m = blockwiseMaskValues(rng, 14, 14, { ratio: 0.4 });
      const count = m.reduce((a, v) => a + v, 0);
      expect(count).toBeLessThanOrEqual(Math.round(0.4 * 196));
      total += count;
      // blocks: most masked patches have a masked 4-neighbour
      let withNeighbour = 0;
      for (let i = 0; i < 14; i++)
        for (let j = 0; j < 14; j++) {
          if (!m[i * 14 + j]) continue;
          const nb = [
            m[(i - 1) * 14 + j],
            m[(i + 1) * 14 + j],
            j > 0 ? m[i * 14 + j - 1] : 0,
            j < 13 ? m[i * 14 + j + 1] : 0,
          ];
          if (nb.some((v) => v === 1)) withNeighbour++;
        }
      expect(withNeighbour / count).toBeGreaterThan(0.9);
    }
    expect(total / trials / 196).toBeGreaterThan(0.36);
    const batch = blockwiseMask(new Rng(1), 3, 7, 7, { ratio: 0.4 });
    expect(batch.shape).toEqual([3, 49]);
    batch.dispose();
  });

  it("random: i.i.d. with the requested rate", () => {
    const m = randomMask(new Rng(0), 16, 196, 0.3);
    const rate = tf.mean(m).dataSync()[0]!;
    expect(rate).toBeGreaterThan(0.25);
    expect(rate).toBeLessThan(0.35);
    m.dispose();
  });

  it("mask-patches blanks exactly the masked patches", () => {
    const x = tf.add(testImages(2, 8, 8, 1), 0.01);
    const y = maskPatches
      .create(maskPatches.options.parse({ generator: "mae", patchSize: 2, ratio: 0.5 }))
      .apply(x, new Rng(4));
    const zeroPatches = tf.sum(tf.equal(tf.max(toPatches(y, 2), 2), 0), 1).arraySync() as number[];
    expect(zeroPatches).toEqual([8, 8]);
    tf.dispose([x, y]);
  });
});
