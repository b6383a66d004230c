import { initBackend, tf } from "@selfsup/core";
import { checkFiniteLoss, checkLossFalls, createMethod } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import {
  abTargets,
  colorizationBins,
  colorizationMethod,
  nearestBin,
  rebalancingWeights,
  rgbToLab,
  rgbToLabNumbers,
} from "../src/index.js";

beforeAll(async () => {
  await initBackend("cpu");
});

// Reference values (D65, sRGB), e.g. from Bruce Lindbloom's calculator.
const KNOWN: Array<[string, [number, number, number], [number, number, number]]> = [
  ["white", [1, 1, 1], [100, 0, 0]],
  ["black", [0, 0, 0], [0, 0, 0]],
  ["pure red", [1, 0, 0], [53.24, 80.09, 67.2]],
  ["pure green", [0, 1, 0], [87.73, -86.18, 83.18]],
  ["pure blue", [0, 0, 1], [32.3, 79.19, -107.86]],
  ["mid grey (0.5)", [0.5, 0.5, 0.5], [53.39, 0, 0]],
];

describe("Lab conversion", () => {
  for (const [name, rgb, lab] of KNOWN) {
    it(`${name}: numbers and tensors agree with the reference`, () => {
      const n = rgbToLabNumbers(...rgb);
      const t = rgbToLab(tf.tensor4d(rgb, [1, 1, 1, 3]));
      const v = Array.from(t.dataSync());
      for (let i = 0; i < 3; i++) {
        expect(n[i]).toBeCloseTo(lab[i] as number, 1);
        expect(v[i]).toBeCloseTo(lab[i] as number, 1);
      }
      t.dispose();
    });
  }

  it("the in-gamut bins hold every sRGB colour's nearest bin", () => {
    const bins = colorizationBins();
    expect(bins.length).toBeGreaterThan(200);
    expect(bins.length).toBeLessThan(330);
    const x = tf.tensor4d([1, 0, 0, 0, 0, 1, 0.5, 0.5, 0.5, 0.2, 0.7, 0.1], [1, 2, 2, 3]);
    const lab = rgbToLab(x);
    const idx = nearestBin(tf.slice(lab, [0, 0, 0, 1], [-1, -1, -1, 2]), tf.tensor2d(bins)).dataSync();
    const ab = Array.from(lab.dataSync());
    idx.forEach((b, i) => {
      const [ca, cb] = bins[b] as [number, number];
      expect(Math.abs(ca - (ab[3 * i + 1] as number))).toBeLessThanOrEqual(5.01);
      expect(Math.abs(cb - (ab[3 * i + 2] as number))).toBeLessThanOrEqual(5.01);
    });
    tf.dispose([x, lab]);
  });
});

describe("colorization", () => {
  it("refuses gray datasets, saying why and naming an RGB dataset", () => {
    expect(() =>
      createMethod(colorizationMethod, { input: { kind: "image", height: 16, width: 16, channels: 1 } }),
    ).toThrow(
      /colorization needs RGB images \(3 channels\) but the dataset has 1-channel images.*synthetic.*channels 3.*cifar10/,
    );
  });

  it("rebalancing weights average to 1 under the smoothed prior and favour rare colours", () => {
    const bins: Array<[number, number]> = [
      [0, 0],
      [10, 0],
      [50, 50],
      [-60, 40],
    ];
    const w = rebalancingWeights([1000, 100, 5, 0], bins, 0.5, 5);
    expect(w[0]).toBeLessThan(w[1] as number);
    expect(w[1]).toBeLessThan(w[2] as number);
    // with lambda = 1/2 no weight exceeds 2Q / (normalisation) and unseen bins get the largest
    expect(w[3]).toBeGreaterThanOrEqual(w[2] as number);
  });

  it("targets are ab averaged over 4x4 cells", () => {
    const x = tf.fill([1, 8, 8, 3], 0.5);
    const red = tf.concat([tf.ones([1, 4, 8, 1]), tf.zeros([1, 4, 8, 2])], 3);
    const img = tf.concat([tf.slice(x, [0, 0, 0, 0], [1, 4, 8, 3]), red], 1);
    const t = abTargets(img);
    expect(t.shape).toEqual([1, 2, 2, 2]);
    const v = Array.from(t.dataSync());
    expect(v[0]).toBeCloseTo(0, 3);
    expect(v[4]).toBeCloseTo(80.09, 1);
    expect(v[5]).toBeCloseTo(67.2, 1);
    tf.dispose([x, red, img, t]);
  });

  it("the regression option trains (finite loss that falls)", async () => {
    const opts = {
      input: { kind: "image" as const, height: 16, width: 16, channels: 3 },
      options: { loss: "regression", decoderHiddenDim: 8 },
      lossSteps: 20,
    };
    await checkFiniteLoss(colorizationMethod, opts);
    await checkLossFalls(colorizationMethod, opts);
  });
});
