import { defineMethod, definePlugin, Rng, vitTinyBackbone } from "@selfsup/core";
import { tinyImageDataset, toyAutoencoderSpec } from "@selfsup/core/testing";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { benchQuality, benchVitOptions, parseBenchRow, withPrerequisites } from "../src/protocol.js";

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

  it("adds a row per backbone a spec's benchBackbones names, on that backbone, beside its random init", async () => {
    const lines: string[] = [];
    const rows = await benchQuality({
      plugins: [
        definePlugin({
          name: "test-two-backbones",
          methods: [{ ...toyAutoencoderSpec, name: "toy", benchBackbones: ["vit-tiny"] }],
        }),
      ],
      dataset: async () => tinyImageDataset({ size: 32, testSize: 32, classes: 4 }),
      batchSize: 16,
      epochs: 1,
      width: 4,
      probeSeeds: [0],
      probeLabels: [10],
      backboneOptions: { "vit-tiny": { dim: 8, depth: 1, heads: 2 } },
      backend: "cpu",
      log: (l) => lines.push(l),
    });
    expect(rows.map((r) => r.method)).toEqual([
      "raw-pixels",
      "random-init",
      "random-init:vit-tiny",
      "toy",
      "toy@vit-tiny",
    ]);
    expect(lines.find((l) => l.includes("on vit-tiny:"))).toMatch(
      /toy@vit-tiny on vit-tiny: patch \d+, width 8, depth 1/,
    );
  });
});

describe("parseBenchRow", () => {
  it("splits <method>@<backbone>", () => {
    expect(parseBenchRow("dino@vit-tiny")).toEqual({ method: "dino", backbone: "vit-tiny" });
    expect(parseBenchRow("simclr")).toEqual({ method: "simclr" });
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

describe("benchVitOptions", () => {
  it("gives the bench's ViT a 4x4 patch grid of width 128 where 4 divides the side", () => {
    const digits = { kind: "image" as const, height: 28, width: 28, channels: 1 };
    const read = { pool: "max", grid: 2 };
    expect(benchVitOptions(digits)).toEqual({ dim: 128, patchSize: 7, ...read });
    expect(benchVitOptions({ kind: "image", height: 32, width: 32, channels: 3 })).toEqual({
      dim: 128,
      patchSize: 8,
      ...read,
    });
    // 30 px: a 7.5 px patch is no patch; the backbone's own patch size stays
    expect(benchVitOptions({ kind: "image", height: 30, width: 30, channels: 1 })).toEqual({
      dim: 128,
      ...read,
    });
    expect(benchVitOptions({ kind: "text", vocabSize: 10, seqLen: 4 })).toEqual({});
    // and vit-tiny accepts them: 16 patches read as a 2x2 max grid of 128-d tokens
    const vit = vitTinyBackbone.build(
      vitTinyBackbone.options.parse(benchVitOptions(digits)),
      digits,
      new Rng(0),
    );
    expect(vit.outputDim).toBe(512);
    vit.dispose();
  });
});
