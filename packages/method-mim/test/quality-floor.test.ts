/**
 * Regression guard for the masked-modelling family's quality that cannot flake: a fixed-seed
 * short masked-language-modelling pretraining of the text transformer on the shipped topics corpus
 * (wasm, deterministic for a seed) must predict held-out masked tokens far better than the same
 * network at random initialisation, and its features must separate the corpus' topics better
 * (10-label probe and kNN). No wall-clock figure is asserted; the full figures are `pnpm bench mim`'s.
 */
import { initBackend } from "@selfsup/core";
import { describe, expect, it } from "vitest";
import { benchMlm } from "../src/bench.js";

describe("quality floor (fixed seed, topics corpus)", () => {
  it("MLM beats the random-init text transformer on masked accuracy, topic probe and kNN", async () => {
    await initBackend("wasm");
    const rows = await benchMlm({
      textBackbones: ["text-transformer"],
      textEpochs: 2,
      textLimit: 1200,
      probeSeeds: [0, 1, 2],
      seed: 0,
      log: () => {},
    });
    const [random, trained] = rows;
    expect(random?.model).toBe("text-transformer random-init");
    expect(trained?.model).toBe("text-transformer");
    console.log(
      `quality floor: mlm masked acc ${trained?.maskedAccuracy}, probe@10 ${trained?.probe10}, kNN ${trained?.knnTop1}; random init ${random?.maskedAccuracy}, ${random?.probe10}, ${random?.knnTop1}`,
    );
    expect(trained!.maskedAccuracy).toBeGreaterThan(random!.maskedAccuracy + 0.1);
    expect(trained!.probe10).toBeGreaterThan(random!.probe10 + 0.05);
    expect(trained!.knnTop1).toBeGreaterThan(random!.knnTop1 + 0.05);
  }, 600_000);
});
