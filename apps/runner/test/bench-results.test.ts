import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { curveData, type PlotRow, writeQualityPlot } from "@selfsup/bench";
import { openStore } from "@selfsup/store";
import pngjs from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluationRows, type StoredBenchRow, storeBenchRows } from "../src/bench/store-rows.js";
import { curveEpochsFor } from "../src/commands/bench.js";

const simclr: PlotRow & StoredBenchRow = {
  method: "simclr",
  epochs: 4,
  seconds: 30,
  imagesPerSec: 500,
  knnTop1: 0.9,
  probe10: 0.85,
  probe100: 0.93,
  perSeed: [
    {
      seed: 0,
      seconds: 28,
      knnTop1: 0.89,
      probe10: [0.84, 0.86, 0.85],
      probe100: [0.93, 0.92, 0.94],
      curve: [
        { epoch: 2, seconds: 14, knnTop1: 0.8, probe10: 0.7 },
        { epoch: 4, seconds: 28, knnTop1: 0.89, probe10: 0.85 },
      ],
    },
    {
      seed: 1,
      seconds: 32,
      knnTop1: 0.91,
      probe10: [0.84, 0.85, 0.86],
      probe100: [0.92, 0.93, 0.93],
      curve: [
        { epoch: 2, seconds: 16, knnTop1: 0.82, probe10: 0.74 },
        { epoch: 4, seconds: 32, knnTop1: 0.91, probe10: 0.85 },
      ],
    },
  ],
};
const pixels: PlotRow & StoredBenchRow = {
  method: "raw-pixels",
  epochs: 0,
  seconds: 0,
  imagesPerSec: 0,
  knnTop1: 0.898,
  probe10: 0.72,
  probe100: 0.86,
};

describe("quality bench results", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "selfsup-bench-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("scores curves at a quarter, half, three quarters and the end of training", () => {
    expect(curveEpochsFor(10)).toEqual([3, 5, 8, 10]);
    expect(curveEpochsFor(2)).toEqual([1, 2]);
    expect(curveEpochsFor(1)).toEqual([1]);
  });

  it("averages the pretraining seeds epoch by epoch and draws baselines as rules", () => {
    const { lines, rules } = curveData([simclr, pixels]);
    const probe = lines.filter((d) => d.metric.startsWith("10-label"));
    expect(probe.map((d) => [d.seconds, d.score])).toEqual([
      [15, 0.72],
      [30, 0.85],
    ]);
    expect(rules.map((d) => d.score)).toEqual([0.72, 0.898]);
  });

  it("writes the plot as SVG and PNG", async () => {
    const file = await writeQualityPlot([simclr, pixels], path.join(dir, "quality"), "test plot");
    const png = pngjs.PNG.sync.read(await readFile(file));
    expect(png.width).toBeGreaterThan(800);
    expect(png.height).toBeGreaterThan(300);
    // not a blank image: some pixels are neither white nor transparent
    let inked = 0;
    for (let i = 0; i < png.data.length; i += 4) if ((png.data[i] as number) < 200) inked++;
    expect(inked).toBeGreaterThan(1000);
    const svg = await readFile(path.join(dir, "quality.svg"), "utf8");
    expect(svg).toContain("simclr");
    expect(svg).toContain("raw-pixels");
    expect(svg).toContain("pretraining seconds");
  });

  it("stores one finished run per pretraining and per baseline, with every evaluation", async () => {
    const store = await openStore({ url: "memory://" });
    try {
      const ids = await storeBenchRows(store, [pixels, simclr], {
        section: "quality",
        dataset: "mnist",
        backend: "wasm",
        probeSeeds: [0, 1, 2],
        options: { epochs: 4 },
        describe: (m) => (m === "simclr" ? { family: "contrastive" } : {}),
      });
      expect(ids).toHaveLength(3);
      const page = await store.listRuns({ filter: { tag: "bench" } });
      expect(page.runs.map((r) => [r.method, r.status]).sort()).toEqual([
        ["raw-pixels", "finished"],
        ["simclr", "finished"],
        ["simclr", "finished"],
      ]);
      const run = page.runs.find((r) => r.name === "bench-quality-simclr-s1");
      expect(run?.family).toBe("contrastive");
      const evals = await store.getEvaluations(run?.id as string);
      expect(evals).toHaveLength(1 + 3 + 3);
      expect(
        evals
          .filter((e) => e.protocol === "linear" && e.labelsPerClass === 100)
          .map((e) => e.value)
          .sort(),
      ).toEqual([0.92, 0.93, 0.93]);
    } finally {
      await store.close();
    }
  });

  it("skips draws that did not produce a number", () => {
    const rows = evaluationRows({ knnTop1: 0.5, probe10: [0.4, Number.NaN] }, [7, 8]);
    expect(rows.map((r) => [r.protocol, r.seed, r.value])).toEqual([
      ["knn", 0, 0.5],
      ["linear", 7, 0.4],
    ]);
  });
});
