import { beforeAll, describe, expect, it } from "vitest";
import {
  adjustHue,
  affine,
  affineWarp,
  builtinAugmentations,
  colorJitter,
  gaussianBlur,
  grayscale,
  horizontalFlip,
  noise,
  normalize,
  randomResizedCrop,
  rotate90,
  rotate90By,
  solarize,
} from "../../src/augment/index.js";
import type { Augmentation, AugmentationSpec } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { maxAbsDiff, testImages, useBackend } from "./helpers.js";

const create = (spec: AugmentationSpec, options: Record<string, unknown> = {}): Augmentation =>
  spec.create(spec.options.parse(options));

beforeAll(async () => useBackend("wasm"));

describe("every built-in augmentation", () => {
  const rgbOps = builtinAugmentations.filter((s) => !["mask-patches", "jigsaw"].includes(s.name));

  it.each(rgbOps.map((s) => [s.name, s] as const))(
    "%s: same rng state -> same output, shape kept, no leak",
    (_n, spec) => {
      const x = testImages(4, 16, 16, 3);
      const op = create(spec, spec.name === "gaussian-blur" || spec.name === "solarize" ? { p: 1 } : {});
      const start = tf.memory().numTensors;
      const a = op.apply(x, new Rng(7));
      const b = op.apply(x, new Rng(7));
      expect(a.shape).toEqual([4, 16, 16, 3]);
      expect(maxAbsDiff(a, b)).toBe(0);
      a.dispose();
      b.dispose();
      expect(tf.memory().numTensors).toBe(start);
      x.dispose();
    },
  );

  it.each(["random-resized-crop", "color-jitter", "gaussian-blur", "noise", "affine", "rotate90"])(
    "%s: different seeds give different outputs",
    (name) => {
      const spec = builtinAugmentations.find((s) => s.name === name)!;
      const op = create(spec, name === "gaussian-blur" ? { p: 1 } : name === "color-jitter" ? { p: 1 } : {});
      const x = testImages(8, 16, 16, 3);
      const a = op.apply(x, new Rng(1));
      const b = op.apply(x, new Rng(2));
      expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-3);
      tf.dispose([x, a, b]);
    },
  );
});

describe("random-resized-crop", () => {
  it("with scale 1 and ratio 1 on a square image is the identity", () => {
    const x = testImages(3, 12, 12, 3);
    const y = create(randomResizedCrop, { scale: [1, 1], ratio: [1, 1] }).apply(x, new Rng(3));
    expect(maxAbsDiff(x, y)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
  });

  it("resizes to the requested size and gives the same crops on the cpu backend", async () => {
    const x = testImages(2, 20, 20, 1);
    const op = create(randomResizedCrop, { size: [8, 10] });
    const onWasm = op.apply(x, new Rng(5));
    expect(onWasm.shape).toEqual([2, 8, 10, 1]);
    const wasmValues = onWasm.dataSync().slice();
    await useBackend("cpu");
    const xc = tf.tensor4d(x.dataSync().slice(), [2, 20, 20, 1]);
    const onCpu = op.apply(xc, new Rng(5));
    const diff = Math.max(...Array.from(onCpu.dataSync(), (v, i) => Math.abs(v - wasmValues[i]!)));
    expect(diff).toBeLessThan(1e-5);
    tf.dispose([xc, onCpu]);
    await useBackend("wasm");
  });

  it("documents a refused scale bound in the option error", () => {
    const r = randomResizedCrop.options.safeParse({ scale: [0.9, 0.2] });
    expect(r.success).toBe(false);
  });
});

describe("horizontal-flip", () => {
  it("with p = 1 reverses the columns exactly", () => {
    const x = testImages(2, 5, 7, 3);
    const y = create(horizontalFlip, { p: 1 }).apply(x, new Rng(0));
    const xs = x.arraySync();
    const ys = y.arraySync() as number[][][][];
    for (let b = 0; b < 2; b++)
      for (let i = 0; i < 5; i++) expect(ys[b]![i]).toEqual([...xs[b]![i]!].reverse());
    tf.dispose([x, y]);
  });

  it("with p = 0.5 leaves the unflipped samples bit-identical", () => {
    const x = testImages(16, 4, 4, 1);
    const y = create(horizontalFlip, { p: 0.5 }).apply(x, new Rng(11));
    const flipped = tf.reverse(x, 2);
    let same = 0;
    let mirrored = 0;
    for (let b = 0; b < 16; b++) {
      const yb = tf.gather(y, b);
      if (maxAbsDiff(yb, tf.gather(x, b)) === 0) same++;
      else if (maxAbsDiff(yb, tf.gather(flipped, b)) === 0) mirrored++;
    }
    expect(same + mirrored).toBe(16);
    expect(same).toBeGreaterThan(0);
    expect(mirrored).toBeGreaterThan(0);
    tf.dispose([x, y, flipped]);
  });
});

describe("solarize", () => {
  it("inverts exactly the pixels at or above the threshold", () => {
    const values = [0, 0.2, 0.49, 0.5, 0.7, 1];
    const x = tf.tensor4d(values, [1, 1, 6, 1]);
    const y = create(solarize, { threshold: 0.5, p: 1 }).apply(x, new Rng(0));
    const out = Array.from(y.dataSync());
    expect(out.map((v) => Number(v.toFixed(5)))).toEqual([0, 0.2, 0.49, 0.5, 0.3, 0]);
    tf.dispose([x, y]);
  });
});

describe("grayscale", () => {
  it("uses the BT.601 luma weights and keeps 3 channels", () => {
    const x = tf.tensor4d([1, 0, 0, 0, 1, 0, 0, 0, 1, 0.2, 0.4, 0.6], [1, 2, 2, 3]);
    const y = create(grayscale, { p: 1 }).apply(x, new Rng(0));
    expect(y.shape).toEqual([1, 2, 2, 3]);
    const v = y.dataSync();
    const expected = [0.299, 0.587, 0.114, 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6];
    expected.forEach((e, px) => {
      for (let c = 0; c < 3; c++) expect(v[px * 3 + c]).toBeCloseTo(e, 5);
    });
    tf.dispose([x, y]);
  });

  it("is the identity on 1-channel images", () => {
    const x = testImages(2, 4, 4, 1);
    const y = create(grayscale, { p: 1 }).apply(x, new Rng(0));
    expect(maxAbsDiff(x, y)).toBe(0);
    tf.dispose([x, y]);
  });
});

describe("normalize", () => {
  it("gives zero mean and unit std per channel when given the data's own statistics", () => {
    const x = testImages(4, 8, 8, 3);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const m = Array.from(mean.dataSync());
    const s = Array.from(variance.dataSync(), Math.sqrt);
    const y = create(normalize, { mean: m, std: s }).apply(x, new Rng(0));
    const after = tf.moments(y, [0, 1, 2]);
    for (const v of after.mean.dataSync()) expect(Math.abs(v)).toBeLessThan(1e-5);
    for (const v of after.variance.dataSync()) expect(v).toBeCloseTo(1, 4);
    tf.dispose([x, y, mean, variance, after.mean, after.variance]);
  });

  it("refuses statistics whose length matches neither 1 nor the channel count", () => {
    const x = testImages(1, 2, 2, 3);
    expect(() => create(normalize, { mean: [0.5, 0.5], std: [1] }).apply(x, new Rng(0))).toThrow(
      /2 values but the images have 3 channels/,
    );
    x.dispose();
  });
});

describe("gaussian-blur", () => {
  it("preserves each image's mean and smooths", () => {
    const x = testImages(3, 24, 24, 3);
    const y = create(gaussianBlur, { p: 1, sigma: [1.5, 2], kernelSize: 7 }).apply(x, new Rng(4));
    const mx = tf.mean(x, [1, 2, 3]).dataSync();
    const my = tf.mean(y, [1, 2, 3]).dataSync();
    for (let b = 0; b < 3; b++) expect(Math.abs(mx[b]! - my[b]!)).toBeLessThan(0.01);
    const varX = tf.moments(x).variance.dataSync()[0]!;
    const varY = tf.moments(y).variance.dataSync()[0]!;
    expect(varY).toBeLessThan(varX * 0.5);
    tf.dispose([x, y]);
  });

  it("with p = 0 returns the input unchanged", () => {
    const x = testImages(2, 8, 8, 1);
    const y = create(gaussianBlur, { p: 0 }).apply(x, new Rng(4));
    expect(maxAbsDiff(x, y)).toBe(0);
    tf.dispose([x, y]);
  });
});

describe("color-jitter", () => {
  it("a hue shift of a full turn is the identity and a third of a turn rotates r->g->b", () => {
    const x = tf.tensor4d([0.9, 0.2, 0.1, 0.3, 0.6, 0.4], [2, 1, 1, 3]);
    const full = adjustHue(x, [1, -1]);
    expect(maxAbsDiff(full, x)).toBeLessThan(1e-5);
    const third = adjustHue(x, [1 / 3, 1 / 3]).dataSync();
    expect(Array.from(third.slice(0, 3)).map((v) => Number(v.toFixed(4)))).toEqual([0.1, 0.9, 0.2]);
    tf.dispose([x, full]);
  });

  it("on 1-channel images changes only brightness/contrast and keeps values in [0,1]", () => {
    const x = testImages(4, 6, 6, 1);
    const y = create(colorJitter, { p: 1, brightness: 0.8, contrast: 0.8 }).apply(x, new Rng(9));
    expect(y.shape).toEqual([4, 6, 6, 1]);
    expect(tf.min(y).dataSync()[0]).toBeGreaterThanOrEqual(0);
    expect(tf.max(y).dataSync()[0]).toBeLessThanOrEqual(1);
    tf.dispose([x, y]);
  });
});

describe("rotate90", () => {
  it("rotates counter-clockwise by k quarter turns per sample", () => {
    const img = [1, 2, 3, 4]; // [[1,2],[3,4]]
    const x = tf.tensor4d([...img, ...img, ...img, ...img], [4, 2, 2, 1]);
    const y = rotate90By(x, [0, 1, 2, 3]);
    const v = Array.from(y.dataSync());
    expect(v.slice(0, 4)).toEqual([1, 2, 3, 4]);
    expect(v.slice(4, 8)).toEqual([2, 4, 1, 3]);
    expect(v.slice(8, 12)).toEqual([4, 3, 2, 1]);
    expect(v.slice(12, 16)).toEqual([3, 1, 4, 2]);
    tf.dispose([x, y]);
  });

  it("refuses quarter turns of non-square images", () => {
    const x = testImages(1, 2, 3, 1);
    expect(() => create(rotate90, { ks: [1] }).apply(x, new Rng(0))).toThrow(/non-square/);
    x.dispose();
  });
});

describe("affine and noise", () => {
  it("affine with zero ranges is the identity", () => {
    const x = testImages(2, 10, 10, 1);
    const y = create(affine, { degrees: 0, translate: 0, scale: [1, 1] }).apply(x, new Rng(1));
    expect(maxAbsDiff(x, y)).toBeLessThan(1e-5);
    tf.dispose([x, y]);
  });

  it("affineWarp moves content by whole-pixel translations and rotates about the center", () => {
    const x = tf.tensor4d([0, 0, 0, 0, 1, 0, 0, 0, 0], [1, 3, 3, 1]);
    const right = affineWarp(x, [{ angle: 0, tx: 1, ty: 0, scale: 1, shear: 0 }]);
    expect(Array.from(right.dataSync()).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([
      0, 0, 0, 0, 0, 1, 0, 0, 0,
    ]);
    const dot = tf.tensor4d([0, 1, 0, 0, 0, 0, 0, 0, 0], [1, 3, 3, 1]);
    // +90 degrees (counter-clockwise on screen) takes the top-middle pixel to the middle-left
    const turned = affineWarp(dot, [{ angle: Math.PI / 2, tx: 0, ty: 0, scale: 1, shear: 0 }]);
    expect(Array.from(turned.dataSync()).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([
      0, 0, 0, 1, 0, 0, 0, 0, 0,
    ]);
    tf.dispose([x, right, dot, turned]);
  });

  it("noise has the requested std and stays in [0,1]", () => {
    const x = tf.fill([4, 16, 16, 1], 0.5);
    const y = create(noise, { std: 0.05 }).apply(x, new Rng(3));
    const { variance } = tf.moments(tf.sub(y, x));
    expect(Math.sqrt(variance.dataSync()[0]!)).toBeCloseTo(0.05, 2);
    tf.dispose([x, y, variance]);
  });
});
