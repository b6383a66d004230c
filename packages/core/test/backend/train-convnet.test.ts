/**
 * End to end: a tiny convnet (conv - relu - conv stride 2 - mean - dense) trains on the wasm
 * backend with plain SGD, using selfsup's kernels for its gradients, and its loss falls.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { randomValues, setupBackends, tf } from "./helpers.js";

describe("a tiny convnet trains on wasm", () => {
  beforeAll(setupBackends);

  it("SGD lowers the loss and every step leaves no tensor behind", async () => {
    await tf.setBackend("wasm");
    const B = 16;
    const classes = 3;
    // A learnable task: the class sets which image quadrant is bright.
    const xs = randomValues(B * 8 * 8 * 1, 1).map((v) => v * 0.1);
    const labels: number[] = [];
    for (let b = 0; b < B; b++) {
      const k = b % classes;
      labels.push(k);
      for (let r = 0; r < 4; r++) {
        for (let c = 0; c < 4; c++) {
          const row = k === 2 ? r + 4 : r;
          const col = k === 1 ? c + 4 : c;
          xs[(b * 8 + row) * 8 + col] += 1;
        }
      }
    }
    const x = tf.tensor4d(xs, [B, 8, 8, 1]);
    const y = tf.oneHot(tf.tensor1d(labels, "int32"), classes);
    const init = (shape: number[], seed: number, scale: number) =>
      tf.variable(
        tf.tensor(
          randomValues(
            shape.reduce((a, b) => a * b, 1),
            seed,
          ).map((v) => v * scale),
          shape,
        ),
      );
    const w1 = init([3, 3, 1, 8], 2, 1);
    const w2 = init([3, 3, 8, 8], 3, 0.4);
    const wd = init([8, classes], 4, 1);
    const bd = tf.variable(tf.zeros([classes]));
    const model = () => {
      const h1 = tf.relu(tf.conv2d(x, w1 as tf.Tensor4D, 1, "same"));
      const h2 = tf.relu(tf.conv2d(h1, w2 as tf.Tensor4D, 2, "same"));
      const pooled = tf.mean(h2, [1, 2]);
      return tf.losses.softmaxCrossEntropy(y, tf.add(tf.matMul(pooled, wd), bd)) as tf.Scalar;
    };
    const opt = tf.train.sgd(0.5);
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    for (let step = 0; step < 20; step++) {
      const loss = opt.minimize(model, true) as tf.Scalar;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.6);
    for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
    tf.dispose([x, y, w1, w2, wd, bd]);
    opt.dispose();
  });
});
