import { ConvNet, convNetBackbone, Rng, tf, ViT, vitTinyBackbone } from "@selfsup/core";
import { describeLossConformance } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import {
  collapseMetrics,
  type DINO,
  dinoCrossEntropy,
  dinoLoss,
  dinoLossSpec,
  dinoMethod,
  teacherTemperatureAt,
} from "../src/index.js";
import { buildContext, createMethod, registry, setupBackend, stepContext } from "./helpers.js";
import { type Mat, randn } from "./reference.js";

beforeAll(setupBackend);

/** H(softmax((t - c)/tt), softmax(s/ts)) in plain Float64 loops, from Eq. 2 of the paper. */
function crossEntropyRef(s: Mat, t: Mat, c: number[], ts: number, tt: number): number {
  let total = 0;
  s.forEach((row, n) => {
    const tr = (t[n] as number[]).map((v, k) => (v - (c[k] as number)) / tt);
    const tmax = Math.max(...tr);
    const te = tr.map((v) => Math.exp(v - tmax));
    const tz = te.reduce((a, v) => a + v, 0);
    const sr = row.map((v) => v / ts);
    const smax = Math.max(...sr);
    const lse = smax + Math.log(sr.reduce((a, v) => a + Math.exp(v - smax), 0));
    total += -te.reduce((a, p, k) => a + (p / tz) * ((sr[k] as number) - lse), 0);
  });
  return total / s.length;
}

const value = (x: tf.Tensor) => x.dataSync()[0] as number;

describe("DINO loss (Caron et al. 2021, Eq. 2-3) against a hand-computed reference", () => {
  it("one pair: by hand on 1 x 2 logits, and on random logits with a centre", () => {
    // s = [0, 0] -> P_s = [1/2, 1/2]; t = [1, 0], c = 0, tt = 1 -> P_t = [e/(1+e), 1/(1+e)]; H = log 2
    expect(
      value(dinoCrossEntropy(tf.tensor2d([[0, 0]]), tf.tensor2d([[1, 0]]), null, { teacherTemperature: 1 })),
    ).toBeCloseTo(Math.log(2), 6);
    const s = randn(5, 7, 1);
    const t = randn(5, 7, 2);
    const c = randn(1, 7, 3)[0] as number[];
    const ours = dinoCrossEntropy(tf.tensor2d(s), tf.tensor2d(t), tf.tensor2d([c]), {
      studentTemperature: 0.1,
      teacherTemperature: 0.04,
    });
    expect(value(ours)).toBeCloseTo(crossEntropyRef(s, t, c, 0.1, 0.04), 3);
  });

  it("multi-crop: the mean over the G (V - 1) pairs of different views (2 global teachers, 4 students: 6 pairs)", () => {
    const students = [1, 2, 3, 4].map((i) => randn(3, 5, 10 + i));
    const teachers = [1, 2].map((i) => randn(3, 5, 20 + i));
    const c = [0.1, -0.2, 0.3, 0, 0.05];
    let ref = 0;
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 4; j++)
        if (i !== j) ref += crossEntropyRef(students[j] as Mat, teachers[i] as Mat, c, 0.1, 0.07);
    const ours = dinoLoss(
      students.map((m) => tf.tensor2d(m)),
      teachers.map((m) => tf.tensor2d(m)),
      tf.tensor2d([c]),
      { studentTemperature: 0.1, teacherTemperature: 0.07 },
    );
    expect(value(ours)).toBeCloseTo(ref / 6, 4);
    expect(() => dinoLoss([tf.zeros([2, 3])], [tf.zeros([2, 3])])).toThrow(
      /at least 1 teacher view and 2 student views/,
    );
  });

  it("teacher temperature warms up linearly 0.04 -> 0.07; collapse metrics read log K / 0 at the extremes", () => {
    expect(teacherTemperatureAt(0, 100, 0.04, 0.07, 0.3)).toBeCloseTo(0.04, 9);
    expect(teacherTemperatureAt(15, 100, 0.04, 0.07, 0.3)).toBeCloseTo(0.055, 9);
    expect(teacherTemperatureAt(30, 100, 0.04, 0.07, 0.3)).toBe(0.07);
    const uniform = collapseMetrics(tf.fill([4, 8], 1 / 8));
    expect(value(uniform.teacherEntropy)).toBeCloseTo(Math.log(8), 5);
    expect(value(uniform.klToUniform)).toBeCloseTo(0, 5);
    const oneHot = collapseMetrics(tf.cast(tf.oneHot(tf.tensor1d([3, 3, 3, 3], "int32"), 8), "float32"));
    expect(value(oneHot.teacherEntropy)).toBeCloseTo(0, 5);
    expect(value(oneHot.klToUniform)).toBeCloseTo(Math.log(8), 5);
  });
});

describe("DINO method", () => {
  it("trains a step on the convnet: 2 global + 2 local crops, collapse metrics, the centre and teacher move", () => {
    const method = createMethod("dino", { freezeLastLayerEpochs: 0 }, 3) as DINO;
    expect(method.views).toBe(0);
    expect(method.crops.sets.map((s) => [s.name, s.count, s.size])).toEqual([
      ["global", 2, [8, 8]],
      ["local", 2, [4, 4]],
    ]);
    const ctx = stepContext(method, { totalSteps: 10 });
    const before = method.teacherLastLayer.weight.dataSync().slice();
    const inputs = tf.randomUniform([6, 8, 8, 1], 0, 1, "float32", 5);
    const r = method.trainStep({ inputs, views: [] }, ctx);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(Object.keys(r.metrics ?? {}).sort()).toEqual([
      "embeddingStd",
      "klToUniform",
      "momentum",
      "teacherEntropy",
      "teacherTemperature",
    ]);
    expect(r.metrics?.teacherTemperature).toBeCloseTo(0.04, 6);
    expect(r.metrics?.teacherEntropy).toBeLessThanOrEqual(Math.log(16) + 1e-5);
    expect(Math.max(...Array.from(method.center.dataSync()).map(Math.abs))).toBeGreaterThan(0);
    const after = method.teacherLastLayer.weight.dataSync();
    expect(after.some((v, i) => v !== before[i])).toBe(true);
    method.dispose();
  });

  it("trains on vit-tiny: 4 px local crops through a ViT built for 8 px", () => {
    const ctx = buildContext();
    const method = registry.create(
      "method",
      "dino",
      { ...dinoMethod.tinyOptions },
      {
        ...ctx,
        buildBackbone: () =>
          new ViT(
            vitTinyBackbone.options.parse({ dim: 8, depth: 1, heads: 2 }),
            { kind: "image", height: 8, width: 8, channels: 1 },
            new Rng(0),
          ),
      },
    ) as DINO;
    const r = method.trainStep(
      { inputs: tf.randomUniform([4, 8, 8, 1], 0, 1, "float32", 6), views: [] },
      stepContext(method),
    );
    expect(Number.isFinite(r.loss)).toBe(true);
    method.dispose();
  });

  it("on a ViT, local crops default to a multiple of its patch: 14 px for the bench's 7 px patches on 28 px digits", () => {
    // core's default local side for 28 px is 12, which a ViT of 7 px patches refuses (the bench's
    // dino@vit-tiny row failed so); the convnet keeps core's 12.
    const digits = { kind: "image", height: 28, width: 28, channels: 1 } as const;
    const localOf = (backbone: { name: string; options: Record<string, unknown> }, extra = {}) => {
      const m = registry.create(
        "method",
        "dino",
        { ...dinoMethod.tinyOptions, localCrops: 1, ...extra },
        buildContext(digits, 0, backbone),
      ) as DINO;
      const size = m.crops.sets.find((s) => s.name === "local")?.size;
      m.dispose();
      return size;
    };
    const vit = (patchSize: number) => ({
      name: "vit-tiny",
      options: { patchSize, dim: 8, depth: 1, heads: 2 },
    });
    expect(localOf(vit(7))).toEqual([14, 14]);
    expect(localOf(vit(4))).toEqual([12, 12]);
    expect(localOf({ name: "convnet", options: { width: 4, strides: [2, 2] } })).toEqual([12, 12]);
    expect(() => localOf(vit(7), { localSize: 12 })).toThrow(/patchSize 7 must divide the image size/);
  });

  it("BatchNorm in the head by default on every backbone (on the ViT too: without it the teacher collapses); iBOT keeps it off on a ViT", () => {
    const digits = { kind: "image", height: 28, width: 28, channels: 1 } as const;
    const vit = {
      name: "vit-tiny",
      options: { patchSize: 7, dim: 8, depth: 1, heads: 2, maskMode: "token" },
    };
    const headBatchNorms = (
      name: string,
      backbone: { name: string; options: Record<string, unknown> },
      extra = {},
    ) => {
      const m = registry.create(
        "method",
        name,
        { ...dinoMethod.tinyOptions, ...extra },
        buildContext(digits, 0, backbone),
      ) as DINO;
      const n = [...m.projector.stateDict().keys()].filter((k) => k.endsWith("running_mean")).length;
      m.dispose();
      return n;
    };
    expect(headBatchNorms("dino", vit)).toBeGreaterThan(0);
    expect(
      headBatchNorms("dino", { name: "convnet", options: { width: 4, strides: [2, 2] } }),
    ).toBeGreaterThan(0);
    expect(headBatchNorms("dino", vit, { batchNorm: false })).toBe(0);
    expect(headBatchNorms("ibot", vit)).toBe(0);
  });

  it("refuses bad multi-crop set-ups when built (so before training and under --dry-run)", () => {
    expect(() => createMethod("dino", { globalCrops: 1 })).toThrow(/DINO needs at least 2 global crops/);
    expect(() => createMethod("dino", { localSize: 12 })).toThrow(
      /dino: local crops of 12x12 px are larger than the 8x8 images/,
    );
    expect(() => createMethod("dino", { localScale: [0.5, 0.6], globalScale: [0.1, 0.4] })).toThrow(
      /local crops must be the smaller ones/,
    );
    const ctx = buildContext();
    const flat = () =>
      new ConvNet(
        convNetBackbone.options.parse({ width: 4, strides: [2, 2], pool: "flatten" }),
        { kind: "image", height: 8, width: 8, channels: 1 },
        new Rng(0),
      );
    expect(() => registry.create("method", "dino", {}, { ...ctx, buildBackbone: flat })).toThrow(
      /dino: the backbone gives 8-d features on 4x4 crops but 32-d on full images/,
    );
  });
});

describe("DINO learns", () => {
  it("with the teacher and centre held (momentum 1), the student's distillation loss falls over 30 steps", () => {
    // the full method's loss need not fall (see conformance.test.ts); against a fixed target it must
    const method = createMethod(
      "dino",
      { baseMomentum: 1, centerMomentum: 1, teacherTemperatureWarmup: 0 },
      4,
    ) as DINO;
    const ctx = stepContext(method, { totalSteps: 30, lr: 0.05 });
    const inputs = tf.randomUniform([8, 8, 8, 1], 0, 1, "float32", 9);
    const gaps: number[] = [];
    for (let step = 0; step < 30; step++) {
      const r = method.trainStep({ inputs, views: [] }, { ...ctx, step });
      gaps.push(r.loss);
    }
    const mean = (xs: number[]) => xs.reduce((a, v) => a + v, 0) / xs.length;
    expect(mean(gaps.slice(-5))).toBeLessThan(mean(gaps.slice(0, 5)));
    method.dispose();
  });
});

// finite loss, the same value twice, gradients w.r.t. student and teacher logits against finite
// differences
describeLossConformance(dinoLossSpec, {
  inputShapes: [
    [6, 4],
    [6, 4],
  ],
});
