import { initBackend, tf } from "@selfsup/core";
import { beforeAll, describe, expect, it } from "vitest";
import { sinkhornKnopp, swappedPredictionLoss } from "../src/sinkhorn.js";

beforeAll(async () => {
  await initBackend("cpu");
});

/** Sinkhorn-Knopp in plain arrays, as SwAV's reference `distributed_sinkhorn` on one device. */
function reference(scores: number[][], eps: number, iters: number): number[][] {
  const b = scores.length;
  const k = (scores[0] as number[]).length;
  let q = Array.from({ length: k }, (_, r) => scores.map((row) => Math.exp((row[r] as number) / eps)));
  const total = q.flat().reduce((s, v) => s + v, 0);
  q = q.map((row) => row.map((v) => v / total));
  for (let it = 0; it < iters; it++) {
    q = q.map((row) => {
      const s = row.reduce((a, v) => a + v, 0);
      return row.map((v) => v / s / k);
    });
    for (let c = 0; c < b; c++) {
      const s = q.reduce((a, row) => a + (row[c] as number), 0);
      for (const row of q) row[c] = (row[c] as number) / s / b;
    }
  }
  return Array.from({ length: b }, (_, c) => q.map((row) => (row[c] as number) * b));
}

describe("sinkhornKnopp", () => {
  const scores = [
    [0.9, 0.1, -0.2],
    [0.8, 0.3, 0.0],
    [0.1, 0.7, 0.2],
    [-0.3, 0.2, 0.95],
  ];

  it("matches the reference algorithm", () => {
    const got = sinkhornKnopp(tf.tensor2d(scores), 0.5, 3).arraySync();
    const want = reference(scores, 0.5, 3);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) expect(got[i]![j]).toBeCloseTo(want[i]![j]!, 5);
  });

  it("gives codes that are distributions and spread the batch evenly over prototypes", () => {
    const q = sinkhornKnopp(tf.tensor2d(scores), 0.05, 50).arraySync();
    for (const row of q) expect(row.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 4);
    // equipartition: each prototype gets about B / K of the batch (exact in the limit)
    for (let j = 0; j < 3; j++)
      expect(Math.abs(q.reduce((a, row) => a + row[j]!, 0) - 4 / 3)).toBeLessThan(0.01);
  });

  it("stays finite for large scores at small epsilon", () => {
    const q = sinkhornKnopp(
      tf.tensor2d([
        [50, -50],
        [40, 45],
      ]),
      0.01,
      3,
    ).dataSync();
    expect(Array.from(q).every(Number.isFinite)).toBe(true);
  });
});

describe("swappedPredictionLoss", () => {
  it("is the cross-entropy of codes against softmax(scores / t), by hand", () => {
    const q = tf.tensor2d([
      [1, 0],
      [0.25, 0.75],
    ]);
    const s = tf.tensor2d([
      [0.2, -0.1],
      [0.0, 0.3],
    ]);
    const t = 0.5;
    const lsm = (row: number[]) => {
      const m = Math.log(row.reduce((a, v) => a + Math.exp(v / t), 0));
      return row.map((v) => v / t - m);
    };
    const a = lsm([0.2, -0.1]);
    const b = lsm([0.0, 0.3]);
    const want = -(1 * a[0]! + 0 * a[1]! + (0.25 * b[0]! + 0.75 * b[1]!)) / 2;
    expect(swappedPredictionLoss(q, s, t).dataSync()[0]).toBeCloseTo(want, 6);
  });
});
