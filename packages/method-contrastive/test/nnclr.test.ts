import { tf } from "@selfsup/core";
import { describeLossConformance } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { type NNCLR, nearestNeighbours, nnclrLoss, nnclrLossSpec, supportSetProblem } from "../src/index.js";
import { createMethod, randomViews, setupBackend, stepContext } from "./helpers.js";
import { infoNCERef, type Mat, randn } from "./reference.js";

beforeAll(setupBackend);

const norm = (r: number[]) => {
  const n = Math.sqrt(r.reduce((a, v) => a + v * v, 0));
  return r.map((v) => v / n);
};
/** The support row of largest cosine with each row of z, normalised (plain loops). */
function nnRef(z: Mat, q: Mat): Mat {
  return z.map((row) => {
    const zn = norm(row);
    let best = 0;
    let bestSim = Number.NEGATIVE_INFINITY;
    q.forEach((s, j) => {
      const sim = norm(s).reduce((a, v, k) => a + v * (zn[k] as number), 0);
      if (sim > bestSim) {
        bestSim = sim;
        best = j;
      }
    });
    return norm(q[best] as number[]);
  });
}

describe("NNCLR loss (Dwibedi et al. 2021, Eq. 2-3) against a hand-computed reference", () => {
  it("picks the nearest support vector by cosine, by hand and on random data", () => {
    const nn = nearestNeighbours(
      tf.tensor2d([
        [1, 0.1],
        [-1, 0],
      ]),
      tf.tensor2d([
        [0, 3],
        [2, 0],
        [-5, 1],
      ]),
    );
    const got = nn.arraySync();
    expect(got[0]).toEqual([1, 0]);
    expect(got[1]?.[0]).toBeCloseTo(-5 / Math.sqrt(26), 6);
    const z = randn(6, 4, 1);
    const q = randn(20, 4, 2);
    const ours = nearestNeighbours(tf.tensor2d(z), tf.tensor2d(q)).arraySync();
    nnRef(z, q).forEach((row, i) => {
      row.forEach((v, k) => {
        expect(ours[i]?.[k]).toBeCloseTo(v, 5);
      });
    });
  });

  it("is the symmetric InfoNCE of NN(z1) vs p2 and NN(z2) vs p1 with in-batch negatives", () => {
    const [z1, z2, p1, p2] = [1, 2, 3, 4].map((s) => randn(5, 4, 10 + s)) as [Mat, Mat, Mat, Mat];
    const q = randn(30, 4, 20);
    const ref = (infoNCERef(nnRef(z1, q), p2, null, 0.1) + infoNCERef(nnRef(z2, q), p1, null, 0.1)) / 2;
    const t = (m: Mat) => tf.tensor2d(m);
    expect(nnclrLoss(t(z1), t(z2), t(p1), t(p2), t(q), { temperature: 0.1 }).dataSync()[0]).toBeCloseTo(
      ref,
      4,
    );
  });
});

describe("NNCLR method", () => {
  it("enqueues the first view's normalised embeddings; the support set and pointer are checkpointed state", () => {
    const method = createMethod("nnclr", {}, 2) as NNCLR;
    expect(Object.keys(method.state())).toEqual(["support", "supportPointer"]);
    const views = randomViews(8, 3);
    const r = method.trainStep({ inputs: views[0], views }, stepContext(method));
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(method.supportPointer.dataSync()[0]).toBe(8);
    const rows = method.supportKeys.arraySync() as number[][];
    for (const row of rows.slice(0, 8)) expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    tf.dispose(views);
    method.dispose();
  });

  it("refuses a support set smaller than the batch, saying what to set", () => {
    expect(supportSetProblem(64, 128)).toMatch(
      /support set \(supportSetSize 64\) is smaller than the batch \(128\)/,
    );
    expect(supportSetProblem(128, 128)).toBeUndefined();
    const method = createMethod("nnclr", { supportSetSize: 4 });
    const views = randomViews(8, 4);
    expect(() => method.trainStep({ inputs: views[0], views }, stepContext(method))).toThrow(
      /smaller than the batch \(8\)/,
    );
    tf.dispose(views);
    method.dispose();
  });
});

describeLossConformance(nnclrLossSpec, {
  inputShapes: [
    [6, 4],
    [6, 4],
    [10, 4],
  ],
});
