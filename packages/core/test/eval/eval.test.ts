import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, it } from "vitest";
import {
  builtinEvaluators,
  extractFeatures,
  fewLabel,
  fineTune,
  knnPredict,
  linearProbe,
  meanStd,
  pca2d,
  sampleLabelsPerClass,
} from "../../src/eval/index.js";
import { type FeatureModule, Module } from "../../src/nn/module.js";
import { Rng } from "../../src/rng.js";
import { TinyMLP, tinyImageDataset } from "../../src/testing/fixtures.js";
import { tf } from "../../src/tf.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** Features = the flattened pixels. */
class Flatten extends Module implements FeatureModule {
  constructor(readonly outputDim: number) {
    super();
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.reshape(x, [x.shape[0] as number, -1]);
  }
  protected recreate(): Flatten {
    return new Flatten(this.outputDim);
  }
}

describe("kNN (Wu et al. 2018)", () => {
  it("classifies by cosine similarity, not distance", () => {
    const pred = knnPredict({
      trainFeatures: tf.tensor2d([
        [1, 0],
        [9, 1],
        [0, 1],
        [1, 9],
      ]),
      trainLabels: Int32Array.from([0, 0, 1, 1]),
      testFeatures: tf.tensor2d([
        [0.8, 0.2],
        [20, 80],
        [-1, 0.1],
      ]),
      numClasses: 2,
      k: 1,
    });
    expect(Array.from(pred)).toEqual([0, 1, 1]);
  });

  it("weights votes by exp(s / t): one very close neighbour outvotes two farther ones at t = 0.1", () => {
    // sims to the query [1, 0]: A = 1 (class 0), B = C = 0.6 (class 1)
    const opts = {
      trainFeatures: tf.tensor2d([
        [1, 0],
        [0.6, 0.8],
        [0.6, -0.8],
      ]),
      trainLabels: Int32Array.from([0, 1, 1]),
      testFeatures: tf.tensor2d([[1, 0]]),
      numClasses: 2,
      k: 3,
    };
    // t = 0.1: e^10 = 22026 vs 2 e^6 = 807 -> class 0
    expect(Array.from(knnPredict({ ...opts, temperature: 0.1 }))).toEqual([0]);
    // t = 100: e^0.01 = 1.01 vs 2 e^0.006 = 2.01 -> class 1 (plain majority)
    expect(Array.from(knnPredict({ ...opts, temperature: 100 }))).toEqual([1]);
  });

  it("caps k at the number of training samples and works in blocks", () => {
    const pred = knnPredict({
      trainFeatures: tf.tensor2d([
        [1, 0],
        [0, 1],
      ]),
      trainLabels: Int32Array.from([0, 1]),
      testFeatures: tf.tensor2d([
        [1, 0.1],
        [0.1, 1],
        [1, 0.2],
      ]),
      numClasses: 2,
      batchSize: 2,
    });
    expect(Array.from(pred)).toEqual([0, 1, 0]);
  });
});

function blobs(n: number, centres: number[][], std: number, rng: Rng) {
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % centres.length;
    x.push((centres[c] as number[]).map((m) => m + std * rng.normal()));
    y.push(c);
  }
  return { x: tf.tensor2d(x), y: Int32Array.from(y) };
}

describe("linear probe", () => {
  it("reaches ~100% on linearly separable data", () => {
    const rng = new Rng(1);
    const centres = [
      [3, 0, 0, 1, 0],
      [0, 3, 0, 1, 0],
      [0, 0, 3, 1, 0],
    ];
    const train = blobs(150, centres, 0.5, rng);
    const test = blobs(60, centres, 0.5, rng);
    const before = tf.memory().numTensors;
    const r = linearProbe({
      trainFeatures: train.x,
      trainLabels: train.y,
      testFeatures: test.x,
      testLabels: test.y,
      numClasses: 3,
    });
    expect(r.accuracy).toBeGreaterThanOrEqual(0.98);
    expect(r.trainAccuracy).toBeGreaterThanOrEqual(0.98);
    expect(r.finalLoss).toBeLessThan(0.2);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("regularises by default as scikit-learn's C = 1 does: L2 of 1 / n for n training samples", () => {
    const rng = new Rng(4);
    const centres = [
      [1, 0, 0, 0, 0, 0],
      [0, 1, 0, 0, 0, 0],
    ];
    const train = blobs(20, centres, 1.5, rng);
    const test = blobs(40, centres, 1.5, rng);
    const probeWith = (weightDecay?: number) =>
      linearProbe({
        trainFeatures: train.x,
        trainLabels: train.y,
        testFeatures: test.x,
        testLabels: test.y,
        numClasses: 2,
        ...(weightDecay !== undefined ? { weightDecay } : {}),
      });
    const byDefault = probeWith();
    const explicit = probeWith(1 / 20);
    expect(byDefault.finalLoss).toBe(explicit.finalLoss);
    // a weaker penalty fits the 20 noisy samples more closely
    expect(probeWith(1e-4).finalLoss).toBeLessThan(byDefault.finalLoss);
  });

  it("is at chance on random labels' held-out set", () => {
    const rng = new Rng(2);
    const x = tf.randomNormal([200, 4], 0, 1, "float32", 3) as tf.Tensor2D;
    const y = Int32Array.from({ length: 200 }, () => rng.int(2));
    const r = linearProbe({
      trainFeatures: tf.slice(x, [0, 0], [100, 4]),
      trainLabels: y.slice(0, 100),
      testFeatures: tf.slice(x, [100, 0], [100, 4]),
      testLabels: y.slice(100),
      numClasses: 2,
    });
    expect(r.accuracy).toBeLessThan(0.7);
  });
});

describe("pca2d", () => {
  it("finds the principal directions and variances of known data", () => {
    // points t * (1, 1) / sqrt2 * 3 + s * (1, -1) / sqrt2, t and s in {-1, 1} x {-2..2}
    const rows: number[][] = [];
    const r2 = Math.SQRT1_2;
    for (const t of [-2, -1, 0, 1, 2])
      for (const s of [-1, 1]) rows.push([3 * t * r2 + s * r2 + 5, 3 * t * r2 - s * r2 - 1, 0]);
    const p = pca2d(
      rows,
      rows.map((_, i) => i % 3),
    );
    expect(Math.abs(p.components[0][0]!)).toBeCloseTo(r2, 6);
    expect(p.components[0][0]).toBeCloseTo(p.components[0][1]!, 6);
    expect(p.components[1][0]).toBeCloseTo(-p.components[1][1]!, 6);
    expect(p.components[0][2]).toBeCloseTo(0, 6);
    // sample variances (n - 1 = 9): along (1,1): sum (3t)^2 = 2 * 9 * 10 = 180 -> 20; along (1,-1): 10 / 9
    const total = 20 + 10 / 9;
    expect(p.explainedVariance[0]).toBeCloseTo(20 / total, 6);
    expect(p.explainedVariance[1]).toBeCloseTo(10 / 9 / total, 6);
    // coordinates: (3t, s) up to the sign convention
    p.points.forEach(([a, b], i) => {
      const t = [-2, -1, 0, 1, 2][Math.floor(i / 2)]!;
      const s = i % 2 === 0 ? -1 : 1;
      expect(Math.abs(a)).toBeCloseTo(Math.abs(3 * t), 5);
      expect(Math.abs(b)).toBeCloseTo(1, 5);
      expect(a).toBeCloseTo(Math.sign(p.points[9]![0]) * 3 * t, 5); // point 9 has t = 2
      expect(b).toBeCloseTo(Math.sign(p.points[1]![1]) * s, 5); // point 1 has s = 1
    });
    expect(p.labels.slice(0, 4)).toEqual([0, 1, 2, 0]);
  });

  it("accepts a tensor", () => {
    const p = pca2d(
      tf.tensor2d([
        [0, 0],
        [2, 0],
        [4, 0.1],
        [6, 0],
      ]),
    );
    expect(p.points).toHaveLength(4);
    expect(p.explainedVariance[0]).toBeGreaterThan(0.99);
  });
});

describe("few-label protocol", () => {
  const dataset = tinyImageDataset({ size: 120, testSize: 60, classes: 3, noise: 0.6 });

  it("samples N labels per class, seeded", () => {
    const labels = Int32Array.from({ length: 30 }, (_, i) => i % 3);
    const a = sampleLabelsPerClass(labels, 2, new Rng(0));
    expect(a).toHaveLength(6);
    expect([0, 1, 2].map((c) => a.filter((i) => labels[i] === c).length)).toEqual([2, 2, 2]);
    expect(sampleLabelsPerClass(labels, 2, new Rng(0))).toEqual(a);
    expect(sampleLabelsPerClass(labels, 2, new Rng(1))).not.toEqual(a);
    expect(sampleLabelsPerClass(labels, 50, new Rng(0))).toHaveLength(30);
  });

  it("reports mean and sample std of accuracy over seeds for each N", async () => {
    const encoder = new Flatten(64);
    for (const protocol of ["knn", "linear"] as const) {
      const results = await fewLabel({
        encoder,
        dataset,
        labelsPerClass: [1, 10],
        seeds: [0, 1, 2],
        protocol,
        probeSteps: 100,
      });
      expect(results.map((r) => [r.protocol, r.labelsPerClass, r.perSeed?.map((p) => p.seed)])).toEqual([
        [protocol, 1, [0, 1, 2]],
        [protocol, 10, [0, 1, 2]],
      ]);
      for (const r of results) {
        const accs = r.perSeed!.map((p) => p.value);
        const { mean, std } = meanStd(accs);
        expect(r.value).toBeCloseTo(mean, 12);
        expect(r.std).toBeCloseTo(std, 12);
        expect(r.value).toBeGreaterThan(1 / 3);
      }
      expect(results[1]!.value).toBeGreaterThanOrEqual(results[0]!.value);
    }
    expect(meanStd([0.5, 0.7, 0.9])).toEqual({ mean: expect.closeTo(0.7, 12), std: expect.closeTo(0.2, 12) });
  });
});

describe("feature extraction, fine-tuning and the registered evaluators", () => {
  const dataset = tinyImageDataset({ size: 96, testSize: 48, classes: 4 });

  it("extracts features in eval mode and restores the mode", async () => {
    const enc = new TinyMLP(64, 16, 8, new Rng(0));
    let modeSeen: boolean | undefined;
    const forward = enc.forward.bind(enc);
    enc.forward = (x: tf.Tensor) => {
      modeSeen = enc.training;
      return forward(x);
    };
    const { features, labels } = await extractFeatures(enc, dataset.test!, {
      input: dataset.input,
      batchSize: 20,
    });
    expect(features.shape).toEqual([48, 8]);
    expect(Array.from(labels.slice(0, 5))).toEqual([0, 1, 2, 3, 0]);
    expect(modeSeen).toBe(false);
    expect(enc.training).toBe(true);
    features.dispose();
  });

  it("fine-tunes a copy of the encoder with a linear head, leaving the encoder untouched", async () => {
    const enc = new TinyMLP(64, 16, 8, new Rng(0));
    const before = Array.from(enc.fc1.weight.dataSync());
    const r = await fineTune({
      encoder: enc,
      train: dataset.train,
      test: dataset.test!,
      input: dataset.input,
      numClasses: 4,
      epochs: 10,
      lr: 0.01,
      batchSize: 16,
    });
    expect(r.accuracy).toBeGreaterThan(0.9);
    expect(Array.from(enc.fc1.weight.dataSync())).toEqual(before);
  });

  it("registers knn, linear-probe, fine-tune and few-label, whose defaults validate and which run", async () => {
    expect(builtinEvaluators.map((e) => e.name)).toEqual(["knn", "linear-probe", "fine-tune", "few-label"]);
    for (const e of builtinEvaluators) expect(e.options.safeParse({}).success).toBe(true);
    const ctx = { encoder: new Flatten(64), dataset, rng: new Rng(0), batchSize: 32 };
    const knn = builtinEvaluators[0]!;
    const [r] = await knn.evaluate(knn.options.parse({ k: 20 }), ctx);
    expect(r).toMatchObject({ protocol: "knn", metric: "top1" });
    expect(r!.value).toBeGreaterThan(0.9);
    const probe = builtinEvaluators[1]!;
    const [p] = await probe.evaluate(probe.options.parse({ steps: 100 }), ctx);
    expect(p).toMatchObject({ protocol: "linear", metric: "top1" });
    expect(p!.value).toBeGreaterThan(0.9);
  });

  it("says clearly when the dataset has no test split", async () => {
    const knn = builtinEvaluators[0]!;
    const noTest = { ...dataset, test: undefined };
    await expect(
      knn.evaluate(knn.options.parse({}), {
        encoder: new Flatten(64),
        dataset: noTest,
        rng: new Rng(0),
        batchSize: 32,
      }),
    ).rejects.toThrow(/needs a dataset with a test split; "tiny-images" has only a training split/);
  });
});
