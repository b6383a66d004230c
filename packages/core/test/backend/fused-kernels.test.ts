/**
 * The speed-ups of the training step keep the numbers: BatchNorm in training mode (wasm's column
 * means by average pooling; TensorFlow's FusedBatchNormV3 and its gradient), the Relu gradient
 * (TensorFlow's ReluGrad), wasm's copy-free Identity and bias-free Conv2d, each compared with the
 * cpu backend's composite ops (values, running statistics and gradients).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  ADAM_UPDATE,
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  RELU_GRAD,
} from "../../src/backend/fused-kernels.js";
import { BatchNorm1d, BatchNorm2d, columnMean } from "../../src/nn/layers/batch-norm.js";
import { Conv2d } from "../../src/nn/layers/conv2d.js";
import { Rng } from "../../src/rng.js";
import { Adam, AdamW } from "../../src/train/optimizers/adam.js";
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

  it("broadcast comparisons (wasm: a strided JS pass) agree, ties included", async () => {
    await expectMatchesCpu(
      backend,
      () => {
        const round = (t: tf.Tensor) => tf.round(tf.mul(t, 2)); // many ties
        const x = round(rand([5, 4, 3], 101));
        const out: tf.Tensor[] = [];
        for (const y of [
          round(rand([5, 1, 3], 102)),
          round(rand([4, 1], 103)),
          round(rand([3], 104)),
          tf.scalar(0),
        ]) {
          out.push(
            tf.equal(x, y),
            tf.notEqual(y, x),
            tf.greater(x, y),
            tf.greaterEqual(y, x),
            tf.less(x, y),
            tf.lessEqual(x, y),
          );
        }
        const m = rand([7, 9], 105);
        out.push(tf.equal(m, tf.max(m, 1, true)), tf.equal(tf.cast(m, "int32"), tf.tensor1d([0], "int32")));
        return out.map((t) => tf.cast(t, "int32"));
      },
      0,
      "compare",
    );
  });

  it("Adam and AdamW updates (fused on wasm) over three steps", async () => {
    await expectMatchesCpu(backend, () => adamSteps(false), 1e-5, "adam");
    await expectMatchesCpu(backend, () => adamSteps(true), 1e-5, "adamw");
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

/** Three Adam(W) updates of a decayed and an undecayed parameter; returns params and moments. */
function adamSteps(decoupled: boolean): tf.Tensor[] {
  const opt = decoupled ? new AdamW({ weightDecay: 0.1 }) : new Adam({ weightDecay: 0.1 });
  const w = tf.variable(rand([4, 3, 5], 71));
  const b = tf.variable(rand([5], 72));
  const params = [
    { name: "w", variable: w, decay: true },
    { name: "b", variable: b, decay: false },
  ];
  for (let i = 0; i < 3; i++) {
    const grads = [tf.mul(rand([4, 3, 5], 80 + i), 10 ** (i - 1)), rand([5], 90 + i)];
    opt.applyGradients(params, grads, 0.01 * (i + 1));
    for (const g of grads) g.dispose();
  }
  const slots = [...opt.getState().slots.values()].map((t) => tf.clone(t));
  const out = [tf.clone(w), tf.clone(b), ...slots];
  opt.dispose();
  w.dispose();
  b.dispose();
  return out;
}

describe("where each fused kernel runs", () => {
  it("tensorflow has the fused BatchNorm and ReluGrad kernels, wasm the Adam update; cpu none", () => {
    for (const name of [BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, RELU_GRAD]) {
      expect(tf.getKernel(name, "tensorflow") !== undefined).toBe(HAS_NATIVE);
      expect(tf.getKernel(name, "wasm")).toBeUndefined();
      expect(tf.getKernel(name, "cpu")).toBeUndefined();
    }
    expect(tf.getKernel(ADAM_UPDATE, "wasm")).toBeDefined();
    expect(tf.getKernel(ADAM_UPDATE, "cpu")).toBeUndefined();
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
