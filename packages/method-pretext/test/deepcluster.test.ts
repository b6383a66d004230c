import { type EpochContext, initBackend, Rng, Trainer, tf } from "@selfsup/core";
import { createMethod, tinyImageDataset } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type DeepCluster,
  deepClusterMethod,
  kmeans,
  nmi,
  pcaWhitening,
  symmetricEigen,
  whiten,
} from "../src/index.js";

beforeAll(async () => {
  await initBackend("cpu");
});

/** n points around `centres` well-separated Gaussian blobs in d dims; returns points and true labels. */
function blobs(n: number, centres: number, d: number, seed: number): { x: Float32Array; labels: Int32Array } {
  const rng = new Rng(seed);
  const means = Array.from({ length: centres }, () => Array.from({ length: d }, () => 10 * rng.normal()));
  const x = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % centres;
    labels[i] = c;
    for (let j = 0; j < d; j++) x[i * d + j] = (means[c]?.[j] as number) + 0.5 * rng.normal();
  }
  return { x, labels };
}

describe("clustering", () => {
  it("NMI: 1 for the same partition renamed, near 0 for independent ones", () => {
    expect(nmi([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9])).toBeCloseTo(1, 10);
    const rng = new Rng(0);
    const a = Array.from({ length: 5000 }, () => rng.int(10));
    const b = Array.from({ length: 5000 }, () => rng.int(10));
    expect(nmi(a, b)).toBeLessThan(0.02);
  });

  it("k-means++ recovers separable clusters (NMI near 1)", () => {
    const { x, labels } = blobs(600, 6, 8, 1);
    const r = kmeans(x, 600, 8, new Rng(2), { k: 6 });
    expect(nmi(r.assignment, labels)).toBeGreaterThan(0.99);
    expect([...r.sizes].every((s) => s === 100)).toBe(true);
  });

  it("re-seeds an empty cluster by splitting a non-empty one", () => {
    const { x } = blobs(200, 2, 4, 3);
    // three starting centroids: two on the data, one far away that no point picks
    const init = new Float32Array(3 * 4);
    init.set(x.subarray(0, 4), 0);
    init.set(x.subarray(4, 8), 4);
    init.fill(1e4, 8);
    const r = kmeans(x, 200, 4, new Rng(0), { k: 3, init, iterations: 10 });
    expect(r.reseeded).toBeGreaterThan(0);
    expect([...r.sizes].every((s) => s > 0)).toBe(true);
  });

  it("symmetric eigen-decomposition reconstructs the matrix", () => {
    const a = Float64Array.from([4, 1, 2, 1, 3, 0, 2, 0, 5]);
    const { values, vectors } = symmetricEigen(a, 3);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let s = 0;
        for (let e = 0; e < 3; e++)
          s += (vectors[i * 3 + e] as number) * (values[e] as number) * (vectors[j * 3 + e] as number);
        expect(s).toBeCloseTo(a[i * 3 + j] as number, 8);
      }
  });

  it("PCA-whitening gives identity covariance (before the row normalisation)", () => {
    const rng = new Rng(4);
    const n = 2000;
    const d = 5;
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      const u = rng.normal();
      const v = rng.normal();
      const row = [3 * u, u + 0.1 * v, 2 * v, u - v, 5 + 0.5 * rng.normal()];
      x.set(row, i * d);
    }
    const w = pcaWhitening(x, n, d, 3, 1e-9);
    const out = new Float64Array(n * 3);
    for (let i = 0; i < n; i++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let j = 0; j < d; j++)
          s += ((x[i * d + j] as number) - (w.mean[j] as number)) * (w.projection[j * 3 + c] as number);
        out[i * 3 + c] = s;
      }
    for (let p = 0; p < 3; p++)
      for (let q = 0; q < 3; q++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += (out[i * 3 + p] as number) * (out[i * 3 + q] as number);
        expect(s / (n - 1)).toBeCloseTo(p === q ? 1 : 0, 2);
      }
    const z = whiten(x, n, d, w);
    expect(Math.hypot(...z.subarray(0, 3))).toBeCloseTo(1, 5);
  });
});

describe("deepcluster", () => {
  const dataset = tinyImageDataset({ size: 96, classes: 4, noise: 0.05 });
  const epochContext = (epoch: number): EpochContext => ({
    epoch,
    rng: new Rng(epoch),
    async *iterate(batchSize: number) {
      for (let start = 0; start < dataset.train.size; start += batchSize) {
        const indices = Array.from(
          { length: Math.min(batchSize, dataset.train.size - start) },
          (_, i) => start + i,
        );
        const samples = await Promise.all(indices.map((i) => dataset.train.get(i)));
        const inputs = tf.tensor4d(
          samples.flatMap((s) => Array.from(s.data)),
          [indices.length, 8, 8, 1],
        );
        try {
          yield { inputs, indices };
        } finally {
          inputs.dispose();
        }
      }
    },
  });

  it("clusters the training split; the step's pseudo-labels are the epoch-start assignment; NMI between epochs", async () => {
    const m = createMethod(deepClusterMethod, {
      input: dataset.input,
      options: { k: 4, pcaDim: 3, embedBatchSize: 40 },
    }) as DeepCluster;
    await m.onEpochStart(epochContext(0));
    const assignment = m.assignment() as Int32Array;
    expect(assignment).toHaveLength(96);
    expect(m.lastClustering?.nonEmpty).toBe(4);
    // prototypes with little noise: the random-init features already separate the 4 classes
    // (3 whitened dimensions: 4 class means span 3; more would whiten noise up to the signal)
    const truth = Array.from({ length: 96 }, (_, i) => i % 4);
    expect(nmi(assignment, truth)).toBeGreaterThan(0.9);
    const samples = await Promise.all(Array.from({ length: 96 }, (_, i) => dataset.train.get(i)));
    const x = tf.tensor4d(
      samples.flatMap((s) => Array.from(s.data)),
      [96, 8, 8, 1],
    );
    const labels = m.pseudoLabels(x);
    expect(Array.from(labels.dataSync())).toEqual(Array.from(assignment));
    await m.onEpochStart(epochContext(1));
    expect(m.lastClustering?.nmiPrevious).toBeGreaterThan(0.9);
    tf.dispose([x, labels]);
    m.dispose();
  });
});

describe("deepcluster with more clusters than images (issue 26 item 10)", () => {
  it("clusters into as many clusters as images and says so once, through the trainer's onNote", async () => {
    const small = tinyImageDataset({ size: 12, classes: 4, noise: 0.05 });
    const m = createMethod(deepClusterMethod, {
      input: small.input,
      options: { k: 50, pcaDim: 3, embedBatchSize: 8 },
    }) as DeepCluster;
    const notes: string[] = [];
    const trainer = new Trainer({
      method: m,
      dataset: small,
      config: { epochs: 2, batchSize: 6, seed: 0 },
      callbacks: [{ onNote: (message) => notes.push(message) }],
    });
    const fit = await trainer.fit();
    expect(fit.status).toBe("completed");
    expect(m.lastClustering?.n).toBe(12);
    // Two epochs re-cluster twice; the note comes once.
    expect(notes).toEqual([
      "deepcluster: method.options.k is 50 but the training split has only 12 images; clustering into 12 clusters instead (set method.options.k to at most 12, ideally well below, to silence this)",
    ]);
    m.dispose();
  });
});
