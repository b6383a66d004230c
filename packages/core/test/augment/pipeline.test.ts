import { beforeAll, describe, expect, it } from "vitest";
import {
  AugmentationConfigError,
  buildPipeline,
  builtinAugmentations,
  DIGITS_PIPELINE,
  defaultPipelineFor,
  makeViews,
  SIMCLR_RGB_PIPELINE,
} from "../../src/augment/index.js";
import { createRegistry } from "../../src/builtin-plugin.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { maxAbsDiff, testImages, useBackend } from "./helpers.js";

beforeAll(async () => useBackend("wasm"));

describe("buildPipeline", () => {
  it("names the step and field of a bad option", () => {
    const bad = () =>
      buildPipeline(builtinAugmentations, [
        { name: "random-resized-crop" },
        { name: "horizontal-flip" },
        { name: "random-resized-crop", options: { scale: [0.9, 0.1] } },
      ]);
    expect(bad).toThrow(AugmentationConfigError);
    expect(bad).toThrow(
      /augmentations\[2\]\.options\.scale: the lower bound must not exceed the upper bound \(got \[0\.9,0\.1\]\)/,
    );
  });

  it("reports every problem at once, unknown names with the available ones", () => {
    let message = "";
    try {
      buildPipeline(builtinAugmentations, [
        { name: "flip-it" },
        { name: "color-jitter", options: { p: 2, hue: "a lot" } },
      ]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(
      /augmentations\[0\]\.name: unknown augmentation "flip-it"; available: random-resized-crop, horizontal-flip/,
    );
    expect(message).toMatch(/augmentations\[1\]\.options\.p: .*\(got 2\)/);
    expect(message).toMatch(/augmentations\[1\]\.options\.hue: /);
  });

  it("looks names up in a registry too, and fills in defaults", () => {
    const pipeline = buildPipeline(createRegistry(), [{ name: "horizontal-flip" }]);
    expect(pipeline.steps).toEqual([{ name: "horizontal-flip", options: { p: 0.5 } }]);
    expect(() => buildPipeline(createRegistry(), [{ name: "nope" }])).toThrow(
      /augmentations\[0\]\.name: unknown augmentation "nope"/,
    );
  });

  it("the recommended pipelines are valid, and chosen by channel count", () => {
    for (const steps of [SIMCLR_RGB_PIPELINE, DIGITS_PIPELINE])
      expect(() => buildPipeline(builtinAugmentations, steps)).not.toThrow();
    const digits = defaultPipelineFor({ kind: "image", height: 28, width: 28, channels: 1 });
    expect(digits.map((s) => s.name)).toEqual(DIGITS_PIPELINE.map((s) => s.name));
    expect(digits.map((s) => s.name)).not.toContain("horizontal-flip");
    const cifar = defaultPipelineFor({ kind: "image", height: 32, width: 32, channels: 3 });
    expect(cifar.map((s) => s.name)).not.toContain("gaussian-blur");
    const big = defaultPipelineFor({ kind: "image", height: 96, width: 96, channels: 3 });
    expect(big.map((s) => s.name)).toContain("gaussian-blur");
    expect(defaultPipelineFor({ kind: "text", vocabSize: 10, seqLen: 8 })).toEqual([]);
  });
});

describe("makeViews", () => {
  it("gives n different views, the same ones for the same seed, without leaking", () => {
    const pipeline = buildPipeline(builtinAugmentations, SIMCLR_RGB_PIPELINE);
    const x = testImages(4, 16, 16, 3);
    const start = tf.memory().numTensors;
    const a = makeViews(pipeline, x, 2, new Rng(42));
    const b = makeViews(pipeline, x, 2, new Rng(42));
    const c = makeViews(pipeline, x, 2, new Rng(43));
    expect(a).toHaveLength(2);
    expect(a[0]!.shape).toEqual([4, 16, 16, 3]);
    expect(maxAbsDiff(a[0]!, b[0]!)).toBe(0);
    expect(maxAbsDiff(a[1]!, b[1]!)).toBe(0);
    expect(maxAbsDiff(a[0]!, a[1]!)).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(a[0]!, c[0]!)).toBeGreaterThan(1e-3);
    tf.dispose([...a, ...b, ...c]);
    expect(tf.memory().numTensors).toBe(start);
    x.dispose();
  });

  it("the digits pipeline runs on 28x28x1 batches", () => {
    const pipeline = buildPipeline(builtinAugmentations, DIGITS_PIPELINE);
    const x = testImages(3, 28, 28, 1);
    const [v] = makeViews(pipeline, x, 1, new Rng(0));
    expect(v!.shape).toEqual([3, 28, 28, 1]);
    tf.dispose([x, v!]);
  });
});
