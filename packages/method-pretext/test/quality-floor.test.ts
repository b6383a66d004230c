/**
 * Regression guard for the pretext family's quality that cannot flake: a fixed-seed short
 * rotation-prediction pretraining on 2,000 real digits (wasm, deterministic for a seed) must put
 * its 10-label linear probe and its kNN clearly above the same convnet at random initialisation.
 * No wall-clock figure is asserted; the full-budget figures are `pnpm bench pretext`'s.
 */
import { benchQuality } from "@selfsup/bench";
import { describeQualityFloor } from "@selfsup/core/testing";
import plugin from "../src/plugin.js";

describeQualityFloor("rotation prediction beats the random-init encoder on the 10-label probe and kNN", {
  setting: "fixed seed, 2,000 digits",
  async run() {
    const rows = await benchQuality({
      plugins: [plugin],
      methods: ["rotation"],
      epochs: 2,
      lr: 3e-3,
      trainLimit: 2000,
      testLimit: 500,
      batchSize: 64,
      width: 16,
      pool: "avg", // as recorded: a random-init convnet keeps little of the digits when pooled
      probeSeeds: [0, 1, 2],
      probeLabels: [10],
      log: () => {},
    });
    const by = Object.fromEntries(rows.map((r) => [r.method, r]));
    return { trained: by["rotation"], baseline: by["random-init"] };
  },
  margins: { probe10: 0.05, knnTop1: 0.05 },
});
