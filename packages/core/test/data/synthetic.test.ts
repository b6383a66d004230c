import { describe, expect, it } from "vitest";
import { synthetic } from "../../src/data/index.js";

describe("synthetic shapes", () => {
  it("is deterministic per (seed, index), labelled by shape, values in [0,1]", async () => {
    const ds = await synthetic.load(synthetic.options.parse({ trainSize: 40, testSize: 8 }));
    expect(ds.input).toEqual({ kind: "image", height: 28, width: 28, channels: 1 });
    expect(ds.classNames).toEqual(["circle", "square", "triangle", "cross"]);
    const a = await ds.train.get(5);
    const b = await ds.train.get(5);
    expect(a.data).toEqual(b.data);
    expect(a.label).toBe(1);
    expect(Math.max(...a.data)).toBeGreaterThan(0.5);
    expect(Math.min(...a.data)).toBe(0);
    const other = await (await synthetic.load(synthetic.options.parse({ seed: 1 }))).train.get(5);
    expect(other.data).not.toEqual(a.data);
    expect((await ds.test!.get(5)).data).not.toEqual(a.data);
  });

  it("draws RGB at other sizes", async () => {
    const ds = await synthetic.load(
      synthetic.options.parse({ size: 16, channels: 3, shapes: ["circle", "cross"] }),
    );
    const s = await ds.train.get(0);
    expect(s.data.length).toBe(16 * 16 * 3);
    expect(ds.numClasses).toBe(2);
  });
});
