/**
 * Regression guard for quality that cannot flake: a fixed-seed short SimCLR pretraining on 1,000
 * real digits (wasm, deterministic for a given seed) must put its 10-label linear probe and its
 * kNN clearly above the same convnet at random initialisation. No wall-clock figure is asserted;
 * the full-budget figures are `pnpm bench`'s.
 */
import { initBackend } from "@selfsup/core";
import { benchQuality } from "@selfsup/bench";
import { describe, expect, it } from "vitest";
import plugin from "../src/plugin.js";

describe("quality floor (fixed seed, 2,000 digits)", () => {
  it("SimCLR beats the random-init encoder on the 10-label probe and kNN", async () => {
    await initBackend("wasm");
    const rows = await benchQuality({
      plugins: [plugin],
      methods: ["simclr"],
      epochs: 3,
      lr: 3e-3,
      trainLimit: 2000,
      testLimit: 500,
      batchSize: 64,
      width: 16,
      pool: "avg", // as recorded: a random-init convnet keeps little of the digits when pooled
      probeSeeds: [0, 1, 2],
      probeLabels: [10],
      methodOptions: { simclr: { projectorHiddenDim: 64, projectorOutputDim: 32 } },
      log: () => {},
    });
    const by = Object.fromEntries(rows.map((r) => [r.method, r]));
    const ssl = by.simclr;
    const random = by["random-init"];
    expect(ssl && random).toBeTruthy();
    console.log(
      `quality floor: simclr probe@10 ${ssl?.probe10}, kNN ${ssl?.knnTop1}; random init ${random?.probe10}, ${random?.knnTop1}; raw pixels ${by["raw-pixels"]?.probe10}`,
    );
    expect(ssl!.probe10).toBeGreaterThan(random!.probe10 + 0.05);
    expect(ssl!.knnTop1).toBeGreaterThan(random!.knnTop1 + 0.05);
  }, 600_000);
});
