/**
 * The speed-ups of the training step keep the numbers: BatchNorm in training mode (wasm's column
 * means by average pooling; TensorFlow's FusedBatchNormV3 and its gradient), the Relu gradient
 * (TensorFlow's ReluGrad), wasm's copy-free Identity and bias-free Conv2d, each compared with the
 * cpu backend's composite ops (values, running statistics and gradients).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, RELU_GRAD } from "../../src/backend/fused-kernels.js";
import { BatchNorm1d, BatchNorm2d, columnMean } from "../../src/nn/layers/batch-norm.js";
import { Conv2d } from "../../src/nn/layers/conv2d.js";
import { Rng } from "../../src/rng.js";
import { BACKENDS_UNDER_TEST, expectMatchesCpu, HAS_NATIVE, rand, setupBackends, tf } from "./helpers.js";

beforeAll(setupBackends);

/** Output, gradients w.r.t. input, γ and β, and the running statistics after one training forward. */
function batchNormStep(bn: BatchNorm1d | BatchNorm2d, shape: number[], seed: number): tf.Tensor[] {
  const x = tf.add(tf.mul(rand(shape, seed), 3), 1.5); // mean and scale away from 0 and 1
  const w = rand(shape, seed + 1);
  const params = [bn.weight, bn.bias].filter((p): p is tf.Variable => p !== undefined);
  const f = (xi: tf.Tensor, ...ps: tf.Tensor[]) => {
    void ps;
    return tf.sum(tf.mul(bn.forward(xi), w));
  };
  const out = bn.forward(x);
  const grads = tf.grads(f)([x, ...params]);
  return [out, ...grads, bn.runningMean, bn.runningVar];
}

describe.each(BACKENDS_UNDER_TEST)("training-step kernels on %s match cpu", (backend) => {
  it("BatchNorm2d (affine) forward, running statistics and gradients", async () => {
    await expectMatchesCpu(backend, () => batchNormStep(new BatchNorm2d(5), [6, 7, 3, 5], 11), 2e-4, "bn2d");
  });

  it("BatchNorm1d without affine parameters", async () => {
    await expectMatchesCpu(
      backend,
      () => batchNormStep(new BatchNorm1d(9, { affine: false }), [33, 9], 21),
      2e-4,
      "bn1d",
    );
  });

  it("BatchNorm over many rows (column means of 100k x 8)", async () => {
    await expectMatchesCpu(
      backend,
      () => batchNormStep(new BatchNorm2d(8), [64, 40, 40, 8], 31),
      5e-4,
      "bn big",
    );
  });

  it("relu gradient, zeros and negatives included", async () => {
    await expectMatchesCpu(
      backend,
      () => {
        const x = tf.concat([rand([50], 41), tf.zeros([5]), tf.tensor1d([-0.0, 1e-30, -1e-30])]);
        const w = rand([58], 42);
        return tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(tf.relu(xi), w)))(x);
      },
      0,
      "relu grad",
    );
  });

  it("Conv2d without bias (plain conv2d) and with bias: outputs and gradients", async () => {
    await expectMatchesCpu(
      backend,
      () => {
        const out: tf.Tensor[] = [];
        for (const bias of [false, true]) {
          const conv = new Conv2d(3, 4, new Rng(7), { stride: 2, bias });
          const x = rand([2, 9, 9, 3], 51);
          const vars = [conv.weight, ...(conv.bias ? [conv.bias] : [])];
          const { value, grads } = tf.variableGrads(
            () => tf.sum(tf.square(conv.forward(x))) as tf.Scalar,
            vars,
          );
          out.push(value, ...vars.map((v) => grads[v.name] as tf.Tensor));
          conv.dispose();
        }
        return out;
      },
      1e-4,
      "conv2d",
    );
  });
});

describe("where each fused kernel runs", () => {
  it("tensorflow has the fused BatchNorm and ReluGrad kernels; wasm and cpu use composite ops", () => {
    for (const name of [BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, RELU_GRAD]) {
      expect(tf.getKernel(name, "tensorflow") !== undefined).toBe(HAS_NATIVE);
      expect(tf.getKernel(name, "wasm")).toBeUndefined();
      expect(tf.getKernel(name, "cpu")).toBeUndefined();
    }
  });

  it("wasm column means (average pooling) agree with a float64 sum at 262k rows", async () => {
    await tf.setBackend("wasm");
    const [n, c] = [262144, 4];
    const x = tf.add(rand([n, c], 61), 3);
    const got = columnMean(x as tf.Tensor2D).dataSync();
    const xs = x.dataSync();
    const want = new Float64Array(c);
    for (let i = 0; i < xs.length; i++) want[i % c] += (xs[i] as number) / n;
    for (let j = 0; j < c; j++) expect(Math.abs((got[j] as number) - (want[j] as number))).toBeLessThan(1e-4);
    x.dispose();
  });

  it("wasm Identity shares data: a clone outlives its source and a variable's assign", async () => {
    await tf.setBackend("wasm");
    const before = tf.memory().numDataBuffers;
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    expect(tf.memory().numDataBuffers - before).toBe(1); // one buffer for both
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    const v = tf.variable(b);
    const kept = tf.clone(v);
    const next = tf.tensor1d([7, 8, 9]);
    v.assign(next);
    next.dispose();
    expect(Array.from(kept.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync())).toEqual([7, 8, 9]);
    for (const t of [b, v, kept]) t.dispose();
    expect(tf.memory().numDataBuffers).toBe(before);
  });
});
