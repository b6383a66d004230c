import { createRegistry, initBackend, Rng, tf } from "@selfsup/core";
import { beforeAll, describe, expect, it } from "vitest";
import plugin from "../src/plugin.js";

describe("example plugin", () => {
  beforeAll(async () => {
    await initBackend("cpu");
  });

  it("registers beside the core built-ins", () => {
    const registry = createRegistry();
    registry.register(plugin);
    expect(registry.entry("augmentation", "invert").plugin).toBe("@selfsup/example-plugin-hello");
    expect(registry.parseOptions("augmentation", "invert", {})).toEqual({ p: 0.5 });
  });

  it("invert with p=1 maps x to 1-x, and is seeded", () => {
    const registry = createRegistry();
    registry.register(plugin);
    const aug = registry.get("augmentation", "invert").create({ p: 1 });
    const x = tf.tensor4d([0, 0.25, 1, 0.5], [1, 2, 2, 1]);
    expect(Array.from(aug.apply(x, new Rng(1)).dataSync())).toEqual([1, 0.75, 0, 0.5]);
    const half = registry.get("augmentation", "invert").create({ p: 0.5 });
    const batch = tf.ones([16, 2, 2, 1]);
    const a = half.apply(batch, new Rng(7)).dataSync();
    const b = half.apply(batch, new Rng(7)).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    const inverted = Array.from(a).filter((v) => v === 0).length / 4;
    expect(inverted).toBeGreaterThan(0);
    expect(inverted).toBeLessThan(16);
  });

  it("l1 loss matches a hand computation", () => {
    const loss = plugin.losses![0]!.create({});
    const v = loss(tf.tensor([1, 2, 3]), tf.tensor([2, 2, 0])).dataSync()[0];
    expect(v).toBeCloseTo((1 + 0 + 3) / 3, 6);
  });
});
