import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend, registerCoreGradients } from "@selfsup/core";
import { afterAll, describe, expect, it } from "vitest";
import { benchMim, formatMlmTable, formatTable } from "../src/bench.js";

const outDir = mkdtempSync(join(tmpdir(), "selfsup-bench-mim-test-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("benchMim", () => {
  it("pretrains, scores and pictures each method (tiny smoke run: 64 digits, 200 sentences; BEiT gets the tokenizer trained before it)", async () => {
    await initBackend("wasm");
    registerCoreGradients();
    const lines: string[] = [];
    const { images, text, pictures } = await benchMim({
      methods: ["beit", "mlm"], // beit-tokenizer is trained first and handed to beit
      baselines: false,
      epochs: 1,
      trainLimit: 64,
      testLimit: 40,
      batchSize: 32,
      probeSeeds: [0],
      fineTuneEpochs: 1,
      textEpochs: 1,
      textLimit: 200,
      textBackbones: ["lstm"],
      backboneOptions: { "vit-tiny": { dim: 16, depth: 1, heads: 2, mlpRatio: 2 } },
      methodOptions: {
        "beit-tokenizer": { kind: "kmeans", codebookSize: 16 },
        mae: { decoderDim: 16, decoderDepth: 1, decoderHeads: 2 },
      },
      outDir,
      log: (line) => lines.push(line),
    });
    expect(images.map((r) => r.method)).toEqual(["beit-tokenizer", "beit"]);
    for (const r of images) {
      expect(r.knnTop1).toBeGreaterThanOrEqual(0);
      expect(r.probe10).toBeLessThanOrEqual(1);
      expect(r.fineTune10).toBeGreaterThanOrEqual(0);
    }
    expect(text.map((r) => r.model)).toEqual(["lstm random-init", "lstm"]);
    for (const r of text) {
      expect(r.maskedAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.perplexity).toBeGreaterThan(1);
    }
    expect(pictures.map((p) => p.slice(outDir.length + 1))).toEqual([
      "beit-tokenizer-codebook-usage.json",
      "beit-tokenizer-codebook-usage.png",
    ]);
    const log = lines.join("\n");
    expect(log).toContain(formatTable(images));
    expect(log).toContain(formatMlmTable(text));
  });
});
