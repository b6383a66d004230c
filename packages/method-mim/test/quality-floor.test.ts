/**
 * Regression guard for the masked-modelling family's quality that cannot flake: a fixed-seed
 * short masked-language-modelling pretraining of the text transformer on the shipped topics corpus
 * (wasm, deterministic for a seed) must predict held-out masked tokens far better than the same
 * network at random initialisation, and its features must separate the corpus' topics better
 * (10-label probe and kNN). No wall-clock figure is asserted; the full figures are `pnpm bench mim`'s.
 */
import { describeQualityFloor } from "@selfsup/core/testing";
import { expect } from "vitest";
import { benchMlm } from "../src/bench.js";

describeQualityFloor("MLM beats the random-init text transformer on masked accuracy, topic probe and kNN", {
  setting: "fixed seed, topics corpus",
  async run() {
    const [baseline, trained] = await benchMlm({
      textBackbones: ["text-transformer"],
      textEpochs: 2,
      textLimit: 1200,
      probeSeeds: [0, 1, 2],
      seed: 0,
      log: () => {},
    });
    expect(baseline?.model).toBe("text-transformer random-init");
    expect(trained?.model).toBe("text-transformer");
    return { trained, baseline };
  },
  margins: { maskedAccuracy: 0.1, probe10: 0.05, knnTop1: 0.05 },
});
