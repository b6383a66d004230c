import { describe, expect, it } from "vitest";
import { z } from "zod";
import { benchQuality, withPrerequisites } from "../../src/bench/quality.js";
import { defineMethod, definePlugin } from "../../src/plugin/define-plugin.js";
import { tinyImageDataset } from "../../src/testing/fixtures.js";

describe("benchQuality", () => {
  it("scores on a given dataset and skips, with its reason, a method that refuses that dataset", async () => {
    const refusing = defineMethod({
      name: "needs-rgb",
      description: "refuses gray images",
      family: "pretext",
      inputs: ["image"],
      options: z.object({}),
      create: () => {
        throw new Error("needs-rgb needs RGB images (3 channels)");
      },
    });
    const lines: string[] = [];
    const rows = await benchQuality({
      plugins: [definePlugin({ name: "test-refusing", methods: [refusing] })],
      dataset: async () => tinyImageDataset({ size: 64, testSize: 32, classes: 4 }),
      epochs: 1,
      width: 4,
      probeSeeds: [0],
      backend: "cpu",
      log: (l) => lines.push(l),
    });
    expect(rows.map((r) => r.method)).toEqual(["raw-pixels", "random-init"]);
    expect(lines[0]).toMatch(/tiny-images 64 train \/ 32 test/);
    expect(lines.some((l) => /needs-rgb\s+skipped: needs-rgb needs RGB images/.test(l))).toBe(true);
    // raw pixels of class prototypes plus a little noise: far above chance (25%)
    expect(rows[0]?.knnTop1).toBeGreaterThan(0.5);
  });
});

describe("withPrerequisites", () => {
  const specs: Record<string, { requires?: { method: string; option: string } }> = {
    tokenizer: {},
    beit: { requires: { method: "tokenizer", option: "tokenizer" } },
    orphan: { requires: { method: "not-installed", option: "x" } },
    mae: {},
  };
  const registry = {
    has: (_kind: "method", name: string) => name in specs,
    get: (_kind: "method", name: string) => specs[name] ?? {},
  };
  it("puts a required method before the method that needs it, once", () => {
    expect(withPrerequisites(["mae", "beit"], registry, {})).toEqual(["mae", "tokenizer", "beit"]);
    expect(withPrerequisites(["tokenizer", "beit"], registry, {})).toEqual(["tokenizer", "beit"]);
  });
  it("adds nothing when the option is given or the required method is not installed", () => {
    expect(withPrerequisites(["beit"], registry, { beit: { tokenizer: "/ckpt" } })).toEqual(["beit"]);
    expect(withPrerequisites(["orphan"], registry, {})).toEqual(["orphan"]);
  });
});
