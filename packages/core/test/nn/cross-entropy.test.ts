import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, it } from "vitest";
import { softmaxCrossEntropy, softmaxNll } from "../../src/nn/cross-entropy.js";
import { tf } from "../../src/tf.js";

const nll = (row: number[], label: number) => {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return lse - (row[label] as number);
};

describe("softmax cross-entropy", () => {
  beforeAll(async () => {
    await tf.setBackend("cpu");
  });
  const rows = [
    [1, 2, 0.5],
    [-1, 0, 3],
    [0.2, 0.2, 0.2],
    [4, -2, 1],
  ];
  const labels = [1, 2, 0, 0];

  it("per item over the last axis, any leading shape", () => {
    const logits = tf.tensor3d(rows.flat(), [2, 2, 3]);
    const got = softmaxNll(logits, tf.tensor2d(labels, [2, 2], "int32"));
    expect(got.shape).toEqual([2, 2]);
    const want = rows.map((r, i) => nll(r, labels[i] as number));
    for (const [i, v] of Array.from(got.dataSync()).entries()) expect(v).toBeCloseTo(want[i] as number, 5);
  });

  it("mean, and weighted mean sum(w ce) / sum(w)", () => {
    const ce = rows.map((r, i) => nll(r, labels[i] as number));
    const logits = tf.tensor2d(rows);
    const y = tf.tensor1d(labels, "int32");
    const mean = ce.reduce((a, b) => a + b, 0) / ce.length;
    expect(softmaxCrossEntropy(logits, y).dataSync()[0]).toBeCloseTo(mean, 5);
    const w = [1, 0, 2, 1];
    const weighted = ce.reduce((a, c, i) => a + c * (w[i] as number), 0) / 4;
    expect(softmaxCrossEntropy(logits, y, tf.tensor1d(w)).dataSync()[0]).toBeCloseTo(weighted, 5);
  });
});
