/**
 * The wasm pre-flight memory estimate: two probe steps of a throwaway method predict the peak
 * tensor memory of a larger step, and a batch that does not fit is refused with the one that does.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  checkStepFitsBackend,
  estimateStepMemory,
  MemoryEstimateError,
  useActivationRecompute,
} from "../../src/backend/memory-estimate.js";
import { loadSynthetic } from "../../src/data/synthetic.js";
import { convNetBackbone } from "../../src/nn/backbones/convnet.js";
import { resNet18Backbone } from "../../src/nn/backbones/resnet.js";
import { Rng } from "../../src/rng.js";
import { ToyAutoencoder, tinyBuildContext } from "../../src/testing/fixtures.js";
import { Trainer } from "../../src/train/trainer.js";
import { setupBackends, tf } from "./helpers.js";

const input = { kind: "image" as const, height: 16, width: 16, channels: 1 as const };
const build = () => {
  const rng = new Rng(0);
  const ctx = tinyBuildContext(input, rng, (i, r) =>
    convNetBackbone.build(convNetBackbone.options.parse({ width: 8 }), i, r),
  );
  return new ToyAutoencoder({ noise: 0 }, ctx);
};

describe("pre-flight memory estimate (wasm)", () => {
  beforeAll(async () => {
    await setupBackends();
    await tf.setBackend("wasm");
  });

  it("predicts the peak tensor memory of a batch-32 step within 20%", async () => {
    const est = await estimateStepMemory({ build, input, batchSize: 32 });
    expect(est).toBeDefined();
    const predicted = (est?.bytes ?? 0) / 1.15;
    const method = build();
    const dataset = await loadSynthetic({ size: 16, channels: 1, trainSize: 32, testSize: 0 });
    const profile = await tf.profile(async () => {
      await new Trainer({
        method,
        dataset,
        config: { epochs: 1, maxSteps: 1, batchSize: 32, optimizer: { name: "adamw", lr: 1e-3 } },
      }).fit();
      return [];
    });
    method.dispose();
    expect(profile.peakBytes / predicted).toBeGreaterThan(0.8);
    expect(profile.peakBytes / predicted).toBeLessThan(1.2);
  });

  it("refuses a batch that exceeds the heap, naming the batch that fits", async () => {
    const est = await estimateStepMemory({ build, input, batchSize: 64 });
    if (est === undefined) throw new Error("no estimate");
    // A heap that holds the fixed part and about 20 samples.
    const capacity = est.fixedBytes + est.perSampleBytes * 20.5;
    const err = await checkStepFitsBackend({
      build,
      input,
      batchSize: 64,
      capacityBytes: capacity,
      what: "toy",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemoryEstimateError);
    const fits = (err as MemoryEstimateError).estimate.largestFittingBatch;
    expect(fits).toBeGreaterThanOrEqual(8);
    expect(fits).toBeLessThanOrEqual(20);
    expect((err as Error).message).toMatch(
      new RegExp(`toy: .*batch size 64 .*batch size ${fits} fits.*--batch-size ${fits}`),
    );
    // A batch that fits passes.
    await expect(
      checkStepFitsBackend({ build, input, batchSize: fits, capacityBytes: capacity }),
    ).resolves.toMatchObject({ fits: true });
  });
});

describe("pre-flight memory estimate with activation recomputation (wasm)", () => {
  const rgb = { kind: "image" as const, height: 16, width: 16, channels: 3 as const };
  const buildResNet = (recompute: "auto" | "never") => () => {
    const rng = new Rng(0);
    const ctx = tinyBuildContext(rgb, rng, (i, r) =>
      resNet18Backbone.build(resNet18Backbone.options.parse({ width: 0.125, recompute }), i, r),
    );
    return new ToyAutoencoder({ noise: 0 }, ctx);
  };

  beforeAll(async () => {
    await setupBackends();
    await tf.setBackend("wasm");
  });

  it("probes with recomputation on, predicts that step's peak, and uses it when a plain step does not fit", async () => {
    const build = buildResNet("auto");
    const plain = await estimateStepMemory({ build, input: rgb, batchSize: 32 });
    const recomputed = await estimateStepMemory({ build, input: rgb, batchSize: 32, recompute: true });
    if (!plain || !recomputed) throw new Error("no estimate");
    expect([plain.canRecompute, plain.recompute, recomputed.recompute]).toEqual([true, false, true]);
    expect(recomputed.perSampleBytes).toBeLessThan(0.7 * plain.perSampleBytes);

    // The estimate holds for a step that really recomputes.
    const method = build();
    expect(useActivationRecompute(method)).toBe(1);
    const dataset = await loadSynthetic({ size: 16, channels: 3, trainSize: 32, testSize: 0 });
    const trainer = new Trainer({
      method,
      dataset,
      config: { epochs: 1, maxSteps: 1, batchSize: 32, optimizer: { name: "adamw", lr: 1e-3 } },
    });
    const profile = await tf.profile(async () => {
      await trainer.fit();
      return [];
    });
    trainer.optimizer.dispose();
    method.dispose();
    const ratio = profile.peakBytes / (recomputed.bytes / 1.15);
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.2);

    // A heap between the two: the check passes and asks for recomputation.
    const between = (plain.bytes + recomputed.bytes) / 2;
    await expect(
      checkStepFitsBackend({ build, input: rgb, batchSize: 32, capacityBytes: between }),
    ).resolves.toMatchObject({ fits: true, recompute: true });
    // A backbone with recompute "never" gets the plain estimate, and the plain refusal.
    const never = await checkStepFitsBackend({
      build: buildResNet("never"),
      input: rgb,
      batchSize: 32,
      capacityBytes: between,
    }).catch((e: unknown) => e);
    expect(never).toBeInstanceOf(MemoryEstimateError);
    expect((never as MemoryEstimateError).estimate.recompute).toBe(false);
    expect((never as Error).message).not.toMatch(/recomputation/);

    // Too small even with recomputation: the error names the batch that fits with it.
    const tight = recomputed.fixedBytes + recomputed.perSampleBytes * 12.5;
    const err = await checkStepFitsBackend({
      build,
      input: rgb,
      batchSize: 32,
      capacityBytes: tight,
      what: "tiny resnet",
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MemoryEstimateError);
    const e = err as MemoryEstimateError;
    expect(e.estimate.recompute).toBe(true);
    expect(e.estimate.largestFittingBatch).toBeGreaterThanOrEqual(8);
    expect(e.estimate.largestFittingBatch).toBeLessThanOrEqual(12);
    expect(e.message).toMatch(
      /tiny resnet: .*batch size 32 .*with activation recomputation.*--batch-size \d+/,
    );
  });
});
