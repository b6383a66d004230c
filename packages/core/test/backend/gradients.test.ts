/**
 * Gradient registration: plain tfjs-core registers none; selfsup registers tfjs-core's own (ported)
 * and a few fixes. Checked on the cpu backend so that it says nothing about wasm kernels.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { CORE_GRAD_CONFIGS } from "../../src/backend/gradients/core-gradients.generated.js";
import { batchMatMulGradConfig } from "../../src/backend/gradients/extra-gradients.js";
import { registerCoreGradients, registerTrainingGradients } from "../../src/backend/gradients/index.js";
import { registerWasmTrainingKernels } from "../../src/backend/wasm-kernels/index.js";
import { rand, relError, setupBackends, tf } from "./helpers.js";

describe("gradient registration", () => {
  beforeAll(setupBackends);

  it("every tfjs-core gradient is registered, and registering again is a no-op", () => {
    expect(CORE_GRAD_CONFIGS.length).toBeGreaterThan(100);
    for (const c of CORE_GRAD_CONFIGS) expect(tf.getGradient(c.kernelName), c.kernelName).toBeDefined();
    expect(registerCoreGradients()).toEqual([]);
    expect(registerTrainingGradients()).toEqual([]);
    expect(tf.getGradient("BatchMatMul")).toBe(batchMatMulGradConfig);
  });

  it("registerWasmTrainingKernels is idempotent and names the wasm kernels", () => {
    const a = registerWasmTrainingKernels();
    const b = registerWasmTrainingKernels();
    expect(a).toEqual(b);
    expect(a).toEqual(
      expect.arrayContaining([
        "Conv2DBackpropFilter",
        "Conv2DBackpropInput",
        "DepthwiseConv2dNativeBackpropFilter",
        "DepthwiseConv2dNativeBackpropInput",
        "UnsortedSegmentSum",
        "Einsum",
        "BatchMatMul",
        "MaxPoolGrad",
        "MaxPool3D",
        "MaxPool3DGrad",
      ]),
    );
    for (const name of a) expect(tf.getKernel(name, "wasm"), name).toBeDefined();
  });

  it("the gradients agree with finite differences (cpu backend, float64-free check)", async () => {
    await tf.setBackend("cpu");
    // d/dx sum(w * f(x)) against central differences, for a few compound functions.
    const fns: Array<[string, (x: tf.Tensor) => tf.Tensor]> = [
      [
        "softplus(conv)",
        (x) =>
          tf.softplus(
            tf.conv2d(
              tf.reshape(x, [1, 4, 4, 1]) as tf.Tensor4D,
              tf.ones([2, 2, 1, 2]) as tf.Tensor4D,
              1,
              "same",
            ),
          ),
      ],
      ["logSoftmax", (x) => tf.logSoftmax(tf.reshape(x, [2, 8]))],
      [
        "layernorm",
        (x) => {
          const m = tf.moments(tf.reshape(x, [2, 8]), -1, true);
          return tf.div(tf.sub(tf.reshape(x, [2, 8]), m.mean), tf.sqrt(tf.add(m.variance, 1e-3)));
        },
      ],
      [
        "matMul 3-D x 2-D",
        (x) => tf.matMul(tf.reshape(x, [2, 2, 4]), tf.reshape(tf.linspace(-1, 1, 12), [4, 3])),
      ],
    ];
    for (const [name, f] of fns) {
      const x0 = rand([16], 5);
      const wv = rand(f(x0).shape, 6);
      const loss = (x: tf.Tensor) => tf.sum(tf.mul(f(x), wv));
      const g = tf.grad(loss)(x0).dataSync();
      const xv = x0.dataSync();
      const num = new Float32Array(16);
      const h = 1e-2;
      for (let i = 0; i < 16; i++) {
        const p = Float32Array.from(xv);
        const m = Float32Array.from(xv);
        p[i] += h;
        m[i] -= h;
        num[i] = (loss(tf.tensor(p)).dataSync()[0] - loss(tf.tensor(m)).dataSync()[0]) / (2 * h);
      }
      expect(relError(g, num), name).toBeLessThan(2e-2);
    }
  });
});
