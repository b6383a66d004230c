import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  checkBackboneSizes,
  defaultLocalSize,
  MultiCrop,
  multiCropFields,
  multiCropSets,
} from "../../src/augment/multi-crop.js";
import { convNetBackbone } from "../../src/nn/backbones/convnet.js";
import { bilinearMatrix, type ViT, vitTinyBackbone } from "../../src/nn/backbones/vit.js";
import type { FeatureModule } from "../../src/nn/module.js";
import type { BackboneSpec, InputSpec } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { useBackend } from "../nn/helpers.js";
import { maxAbsDiff, testImages } from "./helpers.js";

beforeAll(async () => useBackend("cpu"));

const digits: InputSpec = { kind: "image", height: 28, width: 28, channels: 1 };
const defaults = z.object(multiCropFields).parse({});

function build(spec: BackboneSpec, options: Record<string, unknown>, input: InputSpec): FeatureModule {
  return spec.build(spec.options.parse(options), input, new Rng(1));
}

describe("multi-crop views", () => {
  it("asks for views by name and count: 2 global at full size and 6 local at 12 px on digits", () => {
    expect(defaultLocalSize(28)).toBe(12);
    expect(defaultLocalSize(8)).toBe(4);
    const crops = new MultiCrop(multiCropSets(defaults, digits), digits, "test");
    const x = testImages(3, 28, 28, 1);
    const before = tf.memory().numTensors;
    const views = crops.views(x, new Rng(5));
    expect(Object.keys(views)).toEqual(["global", "local"]);
    expect(views.global?.map((v) => v.shape)).toEqual([
      [3, 28, 28, 1],
      [3, 28, 28, 1],
    ]);
    expect(views.local).toHaveLength(6);
    for (const v of views.local ?? []) expect(v.shape).toEqual([3, 12, 12, 1]);
    // only the 8 views stay alive; the input is left intact
    expect(tf.memory().numTensors - before).toBe(8);
    expect(x.isDisposed).toBe(false);
    // same rng state, same views; views differ from each other
    const again = crops.views(x, new Rng(5));
    expect(maxAbsDiff(views.local![3]!, again.local![3]!)).toBe(0);
    expect(maxAbsDiff(views.global![0]!, views.global![1]!)).toBeGreaterThan(0);
    tf.dispose([...Object.values(views).flat(), ...Object.values(again).flat(), x]);
  });

  it("refuses local crops larger than global ones, by size or by area, naming the method", () => {
    const sets = multiCropSets({ ...defaults, localSize: 32 }, digits);
    expect(() => new MultiCrop(sets, digits, "dino")).toThrow(
      /dino: local crops of 32x32 px are larger than the 28x28 images/,
    );
    const bigger = multiCropSets(defaults, digits).map((s) =>
      s.name === "global" ? { ...s, size: [12, 12] as const } : { ...s, size: [16, 16] as const },
    );
    expect(() => new MultiCrop(bigger, digits, "dino")).toThrow(
      /local crops \(16x16 px\) are larger than the global crops \(12x12 px\)/,
    );
    const wide = multiCropSets({ ...defaults, localScale: [0.5, 0.6], globalScale: [0.2, 0.4] }, digits);
    expect(() => new MultiCrop(wide, digits, "dino")).toThrow(/local crops must be the smaller ones/);
  });

  it("checks the backbone takes every crop size: convnet and ViT do, a flattened map does not", () => {
    const sizes = [
      [28, 28],
      [12, 12],
    ] as const;
    expect(() =>
      checkBackboneSizes(build(convNetBackbone, { width: 4 }, digits), 1, sizes, "dino"),
    ).not.toThrow();
    expect(() =>
      checkBackboneSizes(build(vitTinyBackbone, { dim: 8, depth: 1, heads: 2 }, digits), 1, sizes, "dino"),
    ).not.toThrow();
    expect(() =>
      checkBackboneSizes(build(convNetBackbone, { width: 4, pool: "flatten" }, digits), 1, sizes, "dino"),
    ).toThrow(/dino: the backbone gives 64-d features on 12x12 crops but 256-d on full images/);
    expect(() =>
      checkBackboneSizes(
        build(vitTinyBackbone, { dim: 8, depth: 1, heads: 2, patchSize: 7 }, digits),
        1,
        sizes,
        "dino",
      ),
    ).toThrow(
      /dino: the backbone cannot take 12x12 crops: vit-tiny: patchSize 7 must divide the image size, got 12x12/,
    );
  });
});

describe("vit-tiny at other sizes (interpolated position embeddings)", () => {
  it("bilinear matrix: identity at the same size, rows sum to 1, constant fields stay constant", () => {
    const same = bilinearMatrix([3, 3], [3, 3]);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) expect(same[i * 9 + j]).toBe(i === j ? 1 : 0);
    const down = bilinearMatrix([3, 3], [7, 7]);
    for (let i = 0; i < 9; i++) {
      let s = 0;
      for (let j = 0; j < 49; j++) s += down[i * 49 + j]!;
      expect(s).toBeCloseTo(1, 6);
    }
    // 1-D by hand: 2 -> 4 with half-pixel centres: src = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25
    expect(Array.from(bilinearMatrix([1, 4], [1, 2]))).toEqual([1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
  });

  it("runs a 12 px crop through a net built for 28 px, with gradients to the position embeddings", () => {
    const vit = build(vitTinyBackbone, { dim: 8, depth: 1, heads: 2 }, digits) as ViT;
    const x = testImages(2, 12, 12, 1);
    expect(vit.forward(x).shape).toEqual([2, 8]);
    expect(vit.forward(x, { tokens: true }).shape).toEqual([2, 1 + 9, 8]);
    // a random weighting: the plain sum of a LayerNorm output is constant
    const r = tf.randomNormal([2, 8], 0, 1, "float32", 3);
    const grads = tf.variableGrads(() => tf.sum(tf.mul(vit.forward(x), r)) as tf.Scalar, [vit.posEmbed]);
    const g = grads.grads[vit.posEmbed.name]!;
    expect(tf.max(tf.abs(g)).dataSync()[0]).toBeGreaterThan(0);
    // at the built size the learned embeddings are used as they are
    expect(maxAbsDiff(vit.patchPositions(vit.grid), tf.slice(vit.posEmbed, [0, 1, 0], [1, 49, 8]))).toBe(0);
  });
});
