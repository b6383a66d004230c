import { Rng, tf } from "@selfsup/core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type IJEPA, indexSelection, latentRegressionLoss, predictorWidth } from "../src/index.js";
import {
  createMethod,
  recordTokenShapes,
  setupBackend,
  stepContext,
  tinyConvnet,
  tinyViT,
} from "./helpers.js";
import { barImages } from "./synthetic.js";

beforeAll(setupBackend);
const disposables: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const d of disposables.splice(0)) d.dispose();
});

function ijepa(options: Record<string, unknown> = {}, readout: Record<string, unknown> = {}): IJEPA {
  const m = createMethod<IJEPA>("ijepa", tinyViT("remove", readout), options);
  disposables.push(m);
  return m;
}

describe("latentRegressionLoss (I-JEPA)", () => {
  it("matches a hand computation: mse and the reference's smooth L1", () => {
    const pred = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
      ],
    ]);
    const target = tf.tensor3d([
      [
        [0, 2],
        [1, 1],
      ],
    ]);
    // differences 1, 0, 2, 3: mse (1 + 0 + 4 + 9) / 4 = 3.5; smooth L1 (0.5 + 0 + 1.5 + 2.5) / 4 = 1.125
    expect(latentRegressionLoss(pred, target).dataSync()[0]).toBeCloseTo(3.5, 6);
    expect(latentRegressionLoss(pred, target, "smooth-l1").dataSync()[0]).toBeCloseTo(1.125, 6);
    expect(() => latentRegressionLoss(pred, tf.zeros([1, 2, 3]))).toThrow(
      /prediction \[1,2,2\] and target \[1,2,3\] differ/,
    );
    tf.dispose([pred, target]);
  });

  it("indexSelection gathers the listed tokens with a matmul", () => {
    const tokens = tf.tensor3d([[[0], [10], [20], [30]]]);
    const select = indexSelection([[1, 3]], 4);
    expect(tf.matMul(select, tokens).arraySync()).toEqual([[[10], [30]]]);
    expect(() => indexSelection([[1, 4]], 4)).toThrow(/index 4 \(row 0\) is outside 0..3/);
    tf.dispose([tokens, select]);
  });
});

describe("ijepa", () => {
  it("the context encoder sees the context patches only; the predictor answers per target block", () => {
    const m = ijepa();
    const x = barImages(4, 0);
    const masks = m.drawMasks(4, new Rng(3));
    const seen = recordTokenShapes(m.vit);
    const pred = m.predict(x, masks);
    expect(seen[0]).toEqual([4, 1 + masks.contextCount, 16]); // class token + context patches only
    expect(masks.contextCount).toBeLessThan(16);
    expect(pred.shape).toEqual([4 * 4, masks.targetCount, 16]); // 4 blocks x batch 4, width 16
    // pixels outside the context do not change the prediction
    const mask = tf.tidy(() => tf.reshape(masks.contextMask, [4, 4, 1, 4, 1])); // [b, gh, 1, gw, 1]
    const noisy = tf.tidy(() => {
      const hidden = tf.reshape(tf.tile(mask, [1, 1, 4, 1, 4]), [4, 16, 16, 1]);
      return tf.add(x, tf.mul(hidden, tf.randomUniform([4, 16, 16, 1], 0, 1, "float32", 9)));
    });
    const pred2 = m.predict(noisy, masks);
    expect(tf.max(tf.abs(tf.sub(pred, pred2))).dataSync()[0]).toBe(0);
    const target = m.targets(x, masks.targetSelect);
    expect(target.shape).toEqual(pred.shape);
    // layer-normed per token: mean 0, variance 1 over the features
    const { mean, variance } = tf.moments(target, -1);
    expect(tf.max(tf.abs(mean)).dataSync()[0]).toBeLessThan(1e-4);
    expect(tf.max(tf.abs(tf.sub(variance, 1))).dataSync()[0]).toBeLessThan(1e-2);
    tf.dispose([
      x,
      pred,
      pred2,
      noisy,
      mask,
      target,
      mean,
      variance,
      masks.contextMask,
      masks.contextSelect,
      masks.targetSelect,
    ]);
  });

  it("trains the context encoder and predictor; the target encoder moves only by the EMA", () => {
    const m = ijepa({ baseMomentum: 0.5, finalMomentum: 0.5 });
    const ctx = stepContext(m);
    disposables.push(ctx);
    const names = m.trainableVariables().map((v) => v.name);
    expect(m.targetEncoder.namedParameters().every((p) => !p.variable.trainable)).toBe(true);
    expect(names.length).toBe(m.vit.trainableVariables().length + m.predictor.trainableVariables().length);
    const x = barImages(8, 1);
    const before = m.targetEncoder.patchEmbed.weight.arraySync() as number[][];
    const online = m.vit.patchEmbed.weight.arraySync() as number[][];
    const r = m.trainStep({ inputs: x, views: [] }, ctx);
    const after = m.targetEncoder.patchEmbed.weight.arraySync() as number[][];
    const onlineAfter = m.vit.patchEmbed.weight.arraySync() as number[][];
    // target <- 0.5 target + 0.5 online (after the step)
    expect(after[0]?.[0]).toBeCloseTo(
      0.5 * (before[0]?.[0] as number) + 0.5 * (onlineAfter[0]?.[0] as number),
      5,
    );
    expect(onlineAfter[0]?.[0]).not.toBe(online[0]?.[0]);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.metrics.momentum).toBeCloseTo(0.5, 6);
    expect(r.metrics.predictionStd).toBeGreaterThan(0);
    x.dispose();
  });

  it("momentum rises linearly from 0.996 to 1; the predictor is half the encoder's width", () => {
    const m = ijepa();
    expect(m.momentumAt(0, 100)).toBeCloseTo(0.996, 9);
    expect(m.momentumAt(50, 100)).toBeCloseTo(0.998, 9);
    expect(m.momentumAt(100, 100)).toBeCloseTo(1, 9);
    expect(predictorWidth({ predictorHeads: 4 }, 64)).toBe(32);
    expect(predictorWidth({ predictorHeads: 4 }, 128)).toBe(64);
    expect(predictorWidth({ predictorHeads: 4, predictorDim: 12 }, 128)).toBe(12);
  });

  it("refuses a backbone without patch tokens and blocks that cannot fit the grid", () => {
    expect(() => createMethod("ijepa", tinyConvnet)).toThrow(
      /ijepa needs a vit-tiny backbone \(it works on patch tokens\)/,
    );
    expect(() => createMethod("ijepa", tinyViT("token"))).toThrow(
      /ijepa needs vit-tiny with maskMode "remove"/,
    );
    // 8 px patches on 16 px images: a 2x2 grid, where a block side must stay below 2
    const big = (input: Parameters<ReturnType<typeof tinyViT>>[0], rng: Rng) =>
      tinyViT("remove", { patchSize: 8 })(input, rng);
    expect(() => createMethod("ijepa", big)).toThrow(
      /ijepa: the target and context blocks do not fit vit-tiny's 2x2 patch grid \(patchSize 8 on 16x16\)/,
    );
    expect(() => createMethod("ijepa", tinyViT("remove"), { minKeep: 9 })).toThrow(
      /can never keep more than minKeep = 9 patches/,
    );
  });
});
