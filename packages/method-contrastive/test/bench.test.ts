import { describe, expect, it } from "vitest";
import { benchContrastive, formatTable } from "../src/bench.js";
import { setupBackend } from "./helpers.js";

describe("benchContrastive", () => {
  it("pretrains, scores and returns one row per method (tiny smoke run on 64 digits)", async () => {
    await setupBackend();
    const lines: string[] = [];
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
  });
});
