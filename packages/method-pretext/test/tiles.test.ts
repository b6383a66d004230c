import { cutTiles, initBackend, Rng, tf } from "@selfsup/core";
import { beforeAll, describe, expect, it } from "vitest";
import { normalizeTiles, tileGeometry, tileOrigin } from "../src/index.js";

beforeAll(async () => {
  await initBackend("cpu");
});

describe("tile geometry", () => {
  for (const [size, gap, jitter] of [
    [28, 2, 1],
    [32, 2, 1],
    [32, 3, 2],
    [16, 1, 0],
  ] as const) {
    it(`${size}x${size}, gap ${gap}, jitter ${jitter}: no tile leaves the image, neighbours are >= gap apart`, () => {
      const g = tileGeometry(size, size, { grid: 3, gap, jitter }, "test");
      expect(g.tile).toBe(Math.floor(size / 3) - gap - jitter);
      const rng = new Rng(1);
      for (let trial = 0; trial < 200; trial++) {
        const o = Array.from({ length: 9 }, (_, pos) => tileOrigin(g, pos, rng));
        for (const [y, x] of o) {
          expect(y).toBeGreaterThanOrEqual(0);
          expect(x).toBeGreaterThanOrEqual(0);
          expect(y + g.tile).toBeLessThanOrEqual(size);
          expect(x + g.tile).toBeLessThanOrEqual(size);
        }
        for (let pos = 0; pos < 9; pos++) {
          const [y, x] = o[pos] as [number, number];
          if (pos % 3 < 2)
            expect((o[pos + 1] as [number, number])[1] - (x + g.tile)).toBeGreaterThanOrEqual(gap);
          if (pos < 6) expect((o[pos + 3] as [number, number])[0] - (y + g.tile)).toBeGreaterThanOrEqual(gap);
        }
      }
    });
  }

  it("refuses images too small for the grid with a message naming the sizes", () => {
    expect(() => tileGeometry(8, 8, { grid: 3, gap: 2, jitter: 1 }, "jigsaw")).toThrow(
      /jigsaw: a 8x8 image gives 3x3 cells of 2 px/,
    );
  });

  it("cuts exactly the pixels at each origin", () => {
    const x = tf.tensor4d(
      Array.from({ length: 2 * 6 * 6 }, (_, i) => i),
      [2, 6, 6, 1],
    );
    const g = tileGeometry(6, 6, { grid: 3, gap: 0, jitter: 0 }, "test");
    const tiles = cutTiles(x, g.tile, [
      [
        [0, 0],
        [4, 2],
      ],
      [
        [2, 4],
        [0, 0],
      ],
    ]);
    expect(tiles.shape).toEqual([2, 2, 2, 2, 1]);
    expect(Array.from(tiles.dataSync())).toEqual([
      0, 1, 6, 7, 26, 27, 32, 33, 52, 53, 58, 59, 36, 37, 42, 43,
    ]);
    expect(() => cutTiles(x, g.tile, [[[5, 5]], [[0, 0]]])).toThrow(/leaves the 6x6 image/);
    const n = normalizeTiles(tiles);
    const { mean, variance } = tf.moments(n, [2, 3, 4]);
    for (const m of mean.dataSync()) expect(Math.abs(m)).toBeLessThan(1e-5);
    for (const v of variance.dataSync()) expect(v).toBeGreaterThan(0.9);
    tf.dispose([x, tiles, n, mean, variance]);
  });
});
