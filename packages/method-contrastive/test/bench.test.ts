import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { benchContrastive, formatTable } from "../src/bench.js";
import { setupBackend } from "./helpers.js";

describe("benchContrastive", () => {
  it("pretrains, scores and returns one row per method (tiny smoke run on 64 digits)", async () => {
    await setupBackend();
    const lines: string[] = [];
    const resultsFile = path.join(
      mkdtempSync(path.join(tmpdir(), "selfsup-bench-")),
      "results",
      "contrastive.json",
    );
    const rows = await benchContrastive({
      methods: ["simclr"],
      epochs: 1,
      trainLimit: 64,
      testLimit: 40,
      batchSize: 32,
      width: 4,
      baselines: false,
      probeSeeds: [0],
      methodOptions: { simclr: { projectorHiddenDim: 16, projectorOutputDim: 8 } },
      log: (line) => lines.push(line),
      resultsFile,
    });
    expect(rows.map((r) => r.method)).toEqual(["simclr"]);
    const simclr = rows[0]!;
    expect(simclr.epochs).toBe(1);
    expect(simclr.seconds).toBeGreaterThan(0);
    expect(simclr.imagesPerSec).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.knnTop1).toBeGreaterThanOrEqual(0);
      expect(r.knnTop1).toBeLessThanOrEqual(1);
      expect(r.probe10).toBeGreaterThanOrEqual(0);
      expect(r.probe10).toBeLessThanOrEqual(1);
    }
    expect(lines.join("\n")).toContain(formatTable(rows));
    expect(lines.join("\n")).toContain("| method | epochs | seconds | img/s | kNN top-1 | 10-label probe |");
    const saved = JSON.parse(readFileSync(resultsFile, "utf8"));
    expect(saved).toMatchObject({ title: "contrastive", options: { epochs: 1, trainLimit: 64 } });
    expect(saved.rows).toEqual(JSON.parse(JSON.stringify(rows)));
  });
});
