/**
 * Regression guard for the pretext family's quality that cannot flake: a fixed-seed short
 * rotation-prediction pretraining on 2,000 real digits (wasm, deterministic for a seed) must put
 * its 10-label linear probe and its kNN clearly above the same convnet at random initialisation.
 * No wall-clock figure is asserted; the full-budget figures are `pnpm bench pretext`'s.
 */
import { digitsFloor } from "@selfsup/bench";
import { describeQualityFloor } from "@selfsup/core/testing";
import plugin from "../src/plugin.js";

describeQualityFloor("rotation prediction beats the random-init encoder on the 10-label probe and kNN", {
  setting: "fixed seed, 2,000 digits",
  run: () =>
    digitsFloor({
      plugin,
      method: "rotation",
      epochs: 2,
    }),
  margins: { probe10: 0.05, knnTop1: 0.05 },
});
