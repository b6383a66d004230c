import { beforeAll, describe, expect, it } from "vitest";
import { BatchNorm, BatchNorm1d, BatchNorm2d } from "../../src/nn/layers/batch-norm.js";
import { tf } from "../../src/tf.js";
import { maxAbsDiff, randomTensor, useBackend } from "./helpers.js";

beforeAll(async () => {
  await useBackend("cpu");
});

/** (x - mean) / sqrt(var + eps) · γ + β with the batch's biased statistics, by plain autodiff. */
function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-5): tf.Tensor {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}

describe("BatchNorm in training mode", () => {
  it("normalises each channel of [B,H,W,C] with the batch statistics", () => {
    const bn = new BatchNorm2d(3);
    const x = randomTensor([4, 5, 5, 3], 1, -3, 7);
    const y = bn.forward(x);
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    for (const m of mean.dataSync()) expect(m).toBeCloseTo(0, 5);
    for (const v of variance.dataSync()) expect(v).toBeCloseTo(1, 3);
    tf.dispose([x, y, mean, variance]);
    bn.dispose();
  });

  it("moves the running statistics by momentum 0.1, with the unbiased variance", () => {
    const bn = new BatchNorm1d(2);
    const x = tf.tensor2d([
      [1, 10],
      [3, 20],
      [5, 60],
    ]);
    bn.forward(x).dispose();
    // batch mean [3, 30]; unbiased variance [4, 700]
    const rm = Array.from(bn.runningMean.dataSync());
    const rv = Array.from(bn.runningVar.dataSync());
    expect(rm[0]).toBeCloseTo(0.3, 5);
    expect(rm[1]).toBeCloseTo(3, 4);
    expect(rv[0]).toBeCloseTo(0.9 + 0.4, 5);
    expect(rv[1]).toBeCloseTo(0.9 + 70, 3);
    bn.forward(x).dispose();
    expect(bn.runningMean.dataSync()[0]).toBeCloseTo(0.3 * 0.9 + 0.3, 5);
  });

  it("matches autodiff through tf.moments for the gradients of x, scale and shift", () => {
    const bn = new BatchNorm2d(4);
    bn.weight!.assign(randomTensor([4], 2, 0.5, 1.5));
    bn.bias!.assign(randomTensor([4], 3));
    const x = randomTensor([3, 2, 2, 4], 4, -2, 5);
    const w = randomTensor([3, 2, 2, 4], 5);
    const loss =
      (f: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) =>
      (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(f(xx, g, b), w));
    const ours = tf.grads(loss((xx) => bn.forward(xx)))([x, bn.weight!, bn.bias!]);
    const ref = tf.grads(loss(reference))([x, bn.weight!, bn.bias!]);
    for (const [i, g] of ours.entries()) expect(maxAbsDiff(g, ref[i] as tf.Tensor)).toBeLessThan(1e-4);
    expect(maxAbsDiff(bn.forward(x), reference(x, bn.weight!, bn.bias!))).toBeLessThan(1e-5);
  });

  it("updates running stats inside tf.variableGrads without a gradient path or a leaked tensor", () => {
    const bn = new BatchNorm2d(3);
    const x = randomTensor([4, 3, 3, 3], 6, 2, 4);
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(bn.forward(x))) as tf.Scalar,
      bn.trainableVariables(),
    );
    expect(Object.keys(grads).sort()).toEqual([bn.weight!.name, bn.bias!.name].sort());
    value.dispose();
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.min(...bn.runningMean.dataSync())).toBeGreaterThan(0.2); // 0.1 · mean ≈ 0.3
  });

  it("refuses a batch of one sample with an error that says why and what to do", () => {
    const bn1 = new BatchNorm1d(4);
    expect(() => bn1.forward(tf.ones([1, 4]))).toThrow(/batch of 1 sample.*meaningless.*eval\(\)/s);
    const bn2 = new BatchNorm2d(4);
    expect(() => bn2.forward(tf.ones([1, 3, 3, 4]))).toThrow(/at least 2/);
    expect(bn1.eval().forward(tf.ones([1, 4])).shape).toEqual([1, 4]);
  });

  it("checks the input rank and feature count", () => {
    expect(() => new BatchNorm1d(4).forward(tf.ones([2, 2, 2, 4]))).toThrow(/BatchNorm1d expects \[B, 4\]/);
    expect(() => new BatchNorm2d(4).forward(tf.ones([2, 4]))).toThrow(/NHWC/);
    expect(() => new BatchNorm(4).forward(tf.ones([2, 3]))).toThrow(/features last/);
  });

  it("without affine has no parameters, only buffers", () => {
    const bn = new BatchNorm1d(3, { affine: false });
    expect(bn.namedParameters()).toEqual([]);
    expect([...bn.stateDict().keys()]).toEqual(["running_mean", "running_var"]);
    const y = bn.forward(randomTensor([5, 3], 7));
    expect(y.shape).toEqual([5, 3]);
  });
});

describe("BatchNorm in eval mode", () => {
  it("uses the running statistics and leaves them unchanged", () => {
    const bn = new BatchNorm1d(2);
    bn.runningMean.assign(tf.tensor1d([1, -2]));
    bn.runningVar.assign(tf.tensor1d([4, 9]));
    bn.weight!.assign(tf.tensor1d([2, 1]));
    bn.bias!.assign(tf.tensor1d([0.5, 0]));
    bn.eval();
    const y = bn.forward(tf.tensor2d([[3, 1]])).dataSync();
    expect(y[0]).toBeCloseTo(((3 - 1) / Math.sqrt(4 + 1e-5)) * 2 + 0.5, 5);
    expect(y[1]).toBeCloseTo((1 + 2) / Math.sqrt(9 + 1e-5), 5);
    bn.forward(
      tf.tensor2d([
        [30, 10],
        [0, 0],
      ]),
    ).dispose();
    expect(Array.from(bn.runningMean.dataSync())).toEqual([1, -2]);
    expect(Array.from(bn.runningVar.dataSync())).toEqual([4, 9]);
  });

  it("differs from training mode on the same batch, and train() switches back", () => {
    const bn = new BatchNorm2d(2);
    const x = randomTensor([3, 2, 2, 2], 8, 5, 9);
    const train = bn.forward(x);
    bn.eval();
    const evalOut = bn.forward(x);
    expect(maxAbsDiff(train, evalOut)).toBeGreaterThan(0.5);
    bn.train();
    expect(bn.training).toBe(true);
  });
});

describe("BatchNorm decay mask", () => {
  it("excludes scale and shift from weight decay", () => {
    const bn = new BatchNorm2d(3);
    expect(bn.namedParameters().map((p) => [p.name, p.decay])).toEqual([
      ["weight", false],
      ["bias", false],
    ]);
  });
});
