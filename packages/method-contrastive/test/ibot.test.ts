import { ConvNet, convNetBackbone, Rng, tf } from "@selfsup/core";
import { describeLossConformance } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type IBOT,
  ibotMaskValues,
  ibotPatchCrossEntropy,
  ibotPatchLoss,
  ibotPatchLossSpec,
} from "../src/index.js";
import { buildContext, createMethod, registry, setupBackend, stepContext, TINY_VIT } from "./helpers.js";
import { randn } from "./reference.js";

beforeAll(setupBackend);

const value = (x: tf.Tensor) => x.dataSync()[0] as number;

/** -sum_k softmax((t - c)/tt)_k log softmax(s/ts)_k for one patch, in Float64. */
function patchCE(s: number[], t: number[], c: number[], ts: number, tt: number): number {
  const tr = t.map((v, k) => (v - (c[k] as number)) / tt);
  const tmax = Math.max(...tr);
  const te = tr.map((v) => Math.exp(v - tmax));
  const tz = te.reduce((a, v) => a + v, 0);
  const sr = s.map((v) => v / ts);
  const smax = Math.max(...sr);
  const lse = smax + Math.log(sr.reduce((a, v) => a + Math.exp(v - smax), 0));
  return -te.reduce((a, p, k) => a + (p / tz) * ((sr[k] as number) - lse), 0);
}

/** L_MIM of one view (iBOT Eq. 2, the reference's masked mean per image, then the batch mean). */
function mimRef(
  s: number[][][],
  t: number[][][],
  m: number[][],
  c: number[],
  ts: number,
  tt: number,
): number {
  let total = 0;
  s.forEach((img, b) => {
    let sum = 0;
    let count = 0;
    img.forEach((patch, i) => {
      const w = (m[b] as number[])[i] as number;
      sum += w * patchCE(patch, (t[b] as number[][])[i] as number[], c, ts, tt);
      count += w;
    });
    total += sum / Math.max(1, count);
  });
  return total / s.length;
}

const cube = (b: number, n: number, k: number, seed: number) =>
  Array.from({ length: b }, (_, i) => randn(n, k, seed + i));

describe("iBOT's masked-patch loss (Zhou et al. 2022, Eq. 2) against a hand-computed reference", () => {
  it("by hand on one image of 2 patches, K = 2: only the masked patch counts", () => {
    // patch 0 masked: s = [0, 0] -> log P_s = log 1/2 each; any P_t -> H = log 2.
    // patch 1 unmasked (s, t far apart: would add a large term if it counted)
    const s = tf.tensor3d([
      [
        [0, 0],
        [10, -10],
      ],
    ]);
    const t = tf.tensor3d([
      [
        [1, 0],
        [-10, 10],
      ],
    ]);
    const m = tf.tensor2d([[1, 0]]);
    expect(value(ibotPatchCrossEntropy(s, t, m, null, { teacherTemperature: 1 }))).toBeCloseTo(
      Math.log(2),
      6,
    );
    // no masked patch: 0 (the reference clamps the count at 1)
    expect(value(ibotPatchCrossEntropy(s, t, tf.zeros([1, 2]), null))).toBe(0);
  });

  it("random logits with a centre and a mask, and the mean over 2 global views", () => {
    const c = randn(1, 5, 7)[0] as number[];
    const views = [0, 1].map((v) => ({
      s: cube(3, 4, 5, 10 + 10 * v),
      t: cube(3, 4, 5, 50 + 10 * v),
      m: [
        [1, 0, 1, 0],
        [0, 0, 0, 0],
        [1, 1, 1, v],
      ],
    }));
    const refs = views.map(({ s, t, m }) => mimRef(s, t, m, c, 0.1, 0.07));
    const ours = views.map(({ s, t, m }) =>
      value(
        ibotPatchCrossEntropy(tf.tensor3d(s), tf.tensor3d(t), tf.tensor2d(m), tf.tensor2d([c]), {
          studentTemperature: 0.1,
          teacherTemperature: 0.07,
        }),
      ),
    );
    for (const [i, o] of ours.entries()) expect(o).toBeCloseTo(refs[i] as number, 4);
    const both = ibotPatchLoss(
      views.map((v) => tf.tensor3d(v.s)),
      views.map((v) => tf.tensor3d(v.t)),
      views.map((v) => tf.tensor2d(v.m)),
      tf.tensor2d([c]),
      { studentTemperature: 0.1, teacherTemperature: 0.07 },
    );
    expect(value(both)).toBeCloseTo(((refs[0] as number) + (refs[1] as number)) / 2, 4);
    expect(() => ibotPatchLoss([tf.zeros([1, 2, 3])], [], [])).toThrow(
      /one student, teacher and mask per global view/,
    );
    expect(() => ibotPatchCrossEntropy(tf.zeros([1, 2, 3]), tf.zeros([1, 2, 3]), tf.zeros([1, 3]))).toThrow(
      /the mask must be \[B, N\] = \[1, 2\]/,
    );
  });

  it("masks: none with probability 0; blockwise within the ratio range with probability 1; about half the images masked at 0.5", () => {
    const rng = new Rng(3);
    expect(ibotMaskValues(rng, 8, 7, 7, 0, [0.1, 0.5]).every((v) => v === 0)).toBe(true);
    const all = ibotMaskValues(rng, 50, 7, 7, 1, [0.1, 0.5]);
    for (let b = 0; b < 50; b++) {
      const count = all.slice(b * 49, (b + 1) * 49).reduce((a, v) => a + v, 0);
      expect(count).toBeGreaterThan(0);
      expect(count).toBeLessThanOrEqual(Math.round(0.5 * 49));
    }
    const half = ibotMaskValues(rng, 400, 7, 7, 0.5, [0.3, 0.3]);
    let masked = 0;
    for (let b = 0; b < 400; b++) if (half.slice(b * 49, (b + 1) * 49).some((v) => v > 0)) masked++;
    expect(masked / 400).toBeGreaterThan(0.4);
    expect(masked / 400).toBeLessThan(0.6);
  });
});

describe("iBOT method", () => {
  it("trains a step on vit-tiny: class and patch losses, both centres and the teacher move", () => {
    const method = createMethod("ibot", { freezeLastLayerEpochs: 0, maskProbability: 1 }, 3) as IBOT;
    expect(method.crops.sets.map((s) => [s.name, s.count, s.size])).toEqual([
      ["global", 2, [8, 8]],
      ["local", 2, [4, 4]],
    ]);
    const before = method.teacherLastLayer.weight.dataSync().slice();
    const r = method.trainStep(
      { inputs: tf.randomUniform([6, 8, 8, 1], 0, 1, "float32", 5), views: [] },
      stepContext(method, { totalSteps: 10 }),
    );
    expect(Object.keys(r.metrics).sort()).toEqual([
      "clsLoss",
      "embeddingStd",
      "klToUniform",
      "maskedFraction",
      "momentum",
      "patchLoss",
      "teacherEntropy",
      "teacherTemperature",
    ]);
    expect(r.metrics.patchLoss).toBeGreaterThan(0);
    expect(r.metrics.maskedFraction).toBeGreaterThan(0);
    expect(r.loss).toBeCloseTo((r.metrics.clsLoss as number) + (r.metrics.patchLoss as number), 4);
    for (const c of [method.center, method.patchCenter])
      expect(Math.max(...Array.from(c.dataSync()).map(Math.abs))).toBeGreaterThan(0);
    const after = method.teacherLastLayer.weight.dataSync();
    expect(after.some((v, i) => v !== before[i])).toBe(true);
    method.dispose();
  });

  it("trains on a ViT whose pooled read is wider than its tokens (the bench's max-pooled 2x2 grid)", () => {
    const vit = { name: "vit-tiny", options: { ...TINY_VIT.options, pool: "max", grid: 2 } };
    const method = createMethod("ibot", { maskProbability: 1 }, 3, vit) as IBOT;
    expect(method.encoder().outputDim).toBe(4 * TINY_VIT.options.dim);
    const r = method.trainStep(
      { inputs: tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 7), views: [] },
      stepContext(method, { totalSteps: 10 }),
    );
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.metrics.patchLoss).toBeGreaterThan(0);
    method.dispose();
  });

  it("without masks the patch loss is 0 and the loss is DINO's on the class tokens", () => {
    const method = createMethod("ibot", { maskProbability: 0 }, 4) as IBOT;
    const r = method.trainStep(
      { inputs: tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 6), views: [] },
      stepContext(method),
    );
    expect(r.metrics.patchLoss).toBe(0);
    expect(r.metrics.maskedFraction).toBe(0);
    expect(r.loss).toBeCloseTo(r.metrics.clsLoss as number, 5);
    method.dispose();
  });

  it("freezes the prototypes during the first epoch (DINO's freeze_last_layer), not after", () => {
    const method = createMethod("ibot", {}, 5) as IBOT;
    const w0 = method.lastLayer.weight.dataSync().slice();
    const inputs = tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 7);
    method.trainStep({ inputs, views: [] }, stepContext(method));
    expect(Array.from(method.lastLayer.weight.dataSync())).toEqual(Array.from(w0));
    method.trainStep({ inputs, views: [] }, { ...stepContext(method), epoch: 1 });
    expect(method.lastLayer.weight.dataSync().some((v, i) => v !== w0[i])).toBe(true);
    method.dispose();
  });

  it("local crops default to a multiple of the ViT's patch: 12 px for 4 px patches, 14 px for 7 px (28 px digits)", () => {
    const digits = { kind: "image", height: 28, width: 28, channels: 1 } as const;
    const localOf = (patchSize: number, extra: Record<string, unknown> = {}) => {
      const backbone = {
        name: "vit-tiny",
        options: { patchSize, dim: 8, depth: 1, heads: 2, maskMode: "token" },
      };
      const m = registry.create(
        "method",
        "ibot",
        { localCrops: 1, ...extra },
        buildContext(digits, 0, backbone),
      ) as IBOT;
      const size = m.crops.sets.find((s) => s.name === "local")?.size;
      m.dispose();
      return size;
    };
    expect(localOf(4)).toEqual([12, 12]);
    expect(localOf(7)).toEqual([14, 14]);
    expect(() => localOf(7, { localSize: 12 })).toThrow(/patchSize 7 must divide the image size/);
  });

  it("refuses bad set-ups when built (so before training and under --dry-run)", () => {
    expect(() => createMethod("ibot", { globalCrops: 1 })).toThrow(/iBOT needs at least 2 global crops/);
    expect(() => createMethod("ibot", { localSize: 12 })).toThrow(
      /ibot: local crops of 12x12 px are larger than the 8x8 images/,
    );
    expect(() => createMethod("ibot", { localScale: [0.5, 0.6], globalScale: [0.1, 0.4] })).toThrow(
      /local crops must be the smaller ones/,
    );
    expect(() =>
      createMethod("ibot", {}, 0, { name: "convnet", options: { width: 4, strides: [2, 2] } }),
    ).toThrow(/ibot needs a backbone with patch tokens \(vit-tiny\), got ConvNet/);
    expect(() =>
      createMethod("ibot", {}, 0, { name: "vit-tiny", options: { ...TINY_VIT.options, maskMode: "remove" } }),
    ).toThrow(/ibot needs vit-tiny with maskMode "token"/);
    const ctx = buildContext();
    const convnet = () =>
      new ConvNet(
        convNetBackbone.options.parse({ width: 4, strides: [2, 2] }),
        { kind: "image", height: 8, width: 8, channels: 1 },
        new Rng(0),
      );
    expect(() => registry.create("method", "ibot", {}, { ...ctx, buildBackbone: convnet })).toThrow(
      /needs a backbone with patch tokens/,
    );
  });
});

// finite loss, the same value twice, gradients w.r.t. student and teacher patch logits against
// finite differences (no mask: every patch counts)
describeLossConformance(ibotPatchLossSpec, {
  inputShapes: [
    [2, 3, 4],
    [2, 3, 4],
  ],
});
