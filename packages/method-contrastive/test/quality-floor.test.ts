/**
 * Regression guard for quality that cannot flake: a fixed-seed short SimCLR pretraining on 2,000
 * real digits (wasm, deterministic for a given seed) must put its 10-label linear probe and its
 * kNN clearly above the same convnet at random initialisation. No wall-clock figure is asserted;
 * the full-budget figures are `pnpm bench`'s.
 */
import { digitsFloor } from "@selfsup/bench";
import { describeQualityFloor } from "@selfsup/core/testing";
import plugin from "../src/plugin.js";

describeQualityFloor("SimCLR beats the random-init encoder on the 10-label probe and kNN", {
  setting: "fixed seed, 2,000 digits",
  run: () =>
    digitsFloor({
      plugin,
      method: "simclr",
      epochs: 3,
      methodOptions: { simclr: { projectorHiddenDim: 64, projectorOutputDim: 32 } },
    }),
  margins: { probe10: 0.05, knnTop1: 0.05 },
});
