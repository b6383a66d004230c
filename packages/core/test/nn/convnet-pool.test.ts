import { beforeAll, describe, expect, it } from "vitest";
import { convNetBackbone, Rng } from "../../src/index.js";
import { adaptivePool2d } from "../../src/nn/layers/adaptive-pool.js";
import { tf } from "../../src/tf.js";
import "@tensorflow/tfjs-backend-cpu";

describe("convnet pool option", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });

  it("flatten keeps the last map: outputDim = channels·h·w and values equal the unpooled map", () => {
    const input = { kind: "image" as const, height: 28, width: 28, channels: 1 };
    const flat = convNetBackbone.build(
      convNetBackbone.options.parse({ width: 4, pool: "flatten" }),
      input,
      new Rng(3),
    );
    const avg = convNetBackbone.build(convNetBackbone.options.parse({ width: 4 }), input, new Rng(3));
    expect(flat.outputDim).toBe(16 * 4 * 4); // 28 -> 14 -> 7 -> 4, 16 channels
    expect(avg.outputDim).toBe(16);
    flat.eval();
    avg.eval();
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 5);
    const f = flat.forward(x);
    const a = avg.forward(x);
    expect(f.shape).toEqual([2, 256]);
    // same seed, same weights: averaging the flattened map over its 16 positions gives the pooled vector
    const pooled = tf.mean(tf.reshape(f, [2, 16, 16]), 1);
    const diff = tf.max(tf.abs(tf.sub(pooled, a))).dataSync()[0]!;
    expect(diff).toBeLessThan(1e-5);
  });

  it("max / avg to a grid: outputDim = channels·grid², cells are the map's quadrants", () => {
    const input = { kind: "image" as const, height: 28, width: 28, channels: 1 };
    const parse = (o: Record<string, unknown>) => convNetBackbone.options.parse({ width: 4, ...o });
    const flat = convNetBackbone.build(parse({ pool: "flatten" }), input, new Rng(3));
    const max2 = convNetBackbone.build(parse({ pool: "max", grid: 2 }), input, new Rng(3));
    expect(max2.outputDim).toBe(16 * 2 * 2);
    flat.eval();
    max2.eval();
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 6);
    const map = tf.reshape(flat.forward(x), [2, 4, 4, 16]).arraySync() as number[][][][];
    const got = tf.reshape(max2.forward(x), [2, 2, 2, 16]).arraySync() as number[][][][];
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++)
          for (let c = 0; c < 16; c++) {
            const cell = [0, 1].flatMap((di) => [0, 1].map((dj) => map[b]![2 * i + di]![2 * j + dj]![c]!));
            expect(got[b]![i]![j]![c]).toBeCloseTo(Math.max(...cell), 5);
          }
    // a grid finer than the 4x4 map is capped at it: max over 1x1 cells is the flattened map
    const capped = convNetBackbone.build(parse({ pool: "max", grid: 5 }), input, new Rng(3));
    expect((capped as unknown as { grid: number }).grid).toBe(4);
    expect(capped.outputDim).toBe(16 * 4 * 4);
  });

  it("a net built for small tiles runs on whole images at the full grid, with the same weights", () => {
    const parse = (o: Record<string, unknown>) => convNetBackbone.options.parse({ width: 4, ...o });
    const tile = { kind: "image" as const, height: 6, width: 6, channels: 1 };
    const whole = { kind: "image" as const, height: 28, width: 28, channels: 1 };
    const onTiles = convNetBackbone.build(parse({ pool: "max", grid: 2 }), tile, new Rng(3));
    const onImages = convNetBackbone.build(parse({ pool: "max", grid: 2 }), whole, new Rng(3));
    expect(onTiles.outputDim).toBe(16); // 6 -> 3 -> 2 -> 1: the grid is capped at 1
    expect(onImages.outputDim).toBe(64);
    onTiles.eval();
    onImages.eval();
    const x = tf.randomUniform([2, 28, 28, 1], 0, 1, "float32", 8);
    const a = onTiles.forward(x);
    const b = onImages.forward(x);
    expect(a.shape).toEqual([2, 64]); // a 4x4 map at 28 px: the full 2x2 grid again
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBeLessThan(1e-6);
    expect(onTiles.forward(tf.zeros([3, 6, 6, 1])).shape).toEqual([3, 16]);
  });

  it("adaptive pooling on a side the grid does not divide: overlapping cells like PyTorch's", () => {
    // 5x3 map, grid 2: rows [0,3) and [2,5), columns [0,2) and [1,3)
    const values = Array.from({ length: 15 }, (_, i) => ((i * 7) % 11) - 3);
    const x = tf.tensor4d(values, [1, 5, 3, 1]);
    const at = (r: number, c: number) => values[r * 3 + c]!;
    const cell = (rows: number[], cols: number[]) => rows.flatMap((r) => cols.map((c) => at(r, c)));
    const cells = [
      cell([0, 1, 2], [0, 1]),
      cell([0, 1, 2], [1, 2]),
      cell([2, 3, 4], [0, 1]),
      cell([2, 3, 4], [1, 2]),
    ];
    const max = Array.from(adaptivePool2d(x, 2, "max").dataSync());
    const avg = Array.from(adaptivePool2d(x, 2, "avg").dataSync());
    cells.forEach((vs, k) => {
      expect(max[k]).toBeCloseTo(Math.max(...vs), 6);
      expect(avg[k]).toBeCloseTo(vs.reduce((a, b) => a + b, 0) / vs.length, 6);
    });
    expect(() => adaptivePool2d(x, 4, "max")).toThrow(/at least that size, got 5x3/);
  });
});
