/**
 * selfsup's backend additions stay on their backend: the wasm training kernels are registered for
 * "wasm" only, and on the native "tensorflow" backend (when built, see helpers.ts) the Transform
 * kernel selfsup adds matches wasm's and selfsup's gradient fixes survive tfjs-node's own
 * gradient registration.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { affineToTransform } from "../../src/augment/affine.js";
import { batchMatMulGradConfig } from "../../src/backend/gradients/extra-gradients.js";
import { initBackend } from "../../src/backend/init-backend.js";
import { registerWasmTrainingKernels } from "../../src/backend/wasm-kernels/index.js";
import { HAS_NATIVE, NATIVE_SKIP, onBackend, randomValues, relError, setupBackends, tf } from "./helpers.js";

describe("wasm training kernels do not leak onto other backends", () => {
  beforeAll(setupBackends);
  it("every kernel selfsup registers for wasm is absent from, or different on, cpu and tensorflow", () => {
    const names = registerWasmTrainingKernels();
    expect(names.length).toBeGreaterThan(5);
    for (const name of names) {
      const ours = tf.getKernel(name, "wasm");
      expect(ours?.backendName).toBe("wasm");
      for (const other of ["cpu", "tensorflow"]) {
        expect(tf.getKernel(name, other)?.kernelFunc, `${name} on ${other}`).not.toBe(ours?.kernelFunc);
      }
    }
  });
});

describe.skipIf(HAS_NATIVE)(`native tensorflow backend: skipped, ${NATIVE_SKIP}`, () => {
  it.skip("Transform kernel and gradient registration on tensorflow", () => {});
});

describe.skipIf(!HAS_NATIVE)("native tensorflow backend", () => {
  beforeAll(setupBackends);

  it("initBackend registers Transform for tensorflow and keeps selfsup's gradient fixes", async () => {
    const report = await initBackend("tensorflow");
    expect(report.tfBackend).toBe("tensorflow");
    expect(tf.getKernel("Transform", "tensorflow")).toBeDefined();
    // tfjs-node's @tensorflow/tfjs registers upstream gradients when it loads; ours win again.
    expect(tf.getGradient("BatchMatMul")).toBe(batchMatMulGradConfig);
  });

  it("tf.image.transform (digits' affine warp) matches wasm, per sample, bilinear and nearest", async () => {
    const [b, h, w] = [3, 12, 10];
    const image = randomValues(b * h * w * 2, 5);
    const maps = [
      { angle: 0.3, tx: 1.5, ty: -0.5, scale: 1.1, shear: 0.1 },
      { angle: -0.2, tx: 0, ty: 2, scale: 0.9, shear: 0 },
      { angle: 0, tx: 0, ty: 0, scale: 1, shear: 0 },
    ].flatMap((p) => affineToTransform(p, h, w));
    for (const interpolation of ["bilinear", "nearest"] as const) {
      const f = () =>
        tf.image.transform(
          tf.tensor4d(image, [b, h, w, 2]),
          tf.tensor2d(maps, [b, 8]),
          interpolation,
          "constant",
          0.25,
        );
      const [got] = await onBackend("tensorflow", f);
      const [want] = await onBackend("wasm", f);
      expect(got?.shape).toEqual([b, h, w, 2]);
      expect(relError(got?.values ?? [], want?.values ?? []), interpolation).toBeLessThan(1e-5);
    }
  });
});

describe.skipIf(!HAS_NATIVE)("native tensorflow backend: ClipByValue as one op", () => {
  beforeAll(setupBackends);

  it("gives tfjs-node's Minimum + Maximum values, float32 and int32, and the same gradient as cpu", async () => {
    await initBackend("tensorflow");
    // The TensorFlow ops a clip runs: one ClipByValue (the binding's executeOp, counted).
    const backend = tf.findBackend("tensorflow") as unknown as {
      binding: { executeOp: (...a: unknown[]) => unknown };
    };
    const binding = backend.binding;
    const ops: string[] = [];
    const counting = Object.create(binding) as typeof binding;
    Object.defineProperty(counting, "executeOp", {
      value: (name: string, ...rest: unknown[]) => {
        ops.push(name);
        return binding.executeOp(name, ...rest);
      },
    });
    backend.binding = counting;
    try {
      await onBackend("tensorflow", () => tf.clipByValue(tf.tensor1d([-2, 0.5, 3]), 0, 1));
    } finally {
      backend.binding = binding;
    }
    expect(ops).toEqual(["ClipByValue"]);
    const values = randomValues(4096, 11).map((v) => v * 3); // a third inside [-1, 1)... and beyond
    values[0] = Number.POSITIVE_INFINITY;
    values[1] = Number.NEGATIVE_INFINITY;
    values[2] = -0;
    for (const [lo, hi] of [
      [0, 1],
      [-1, 0.5],
      [2, 2],
    ] as const) {
      const [got] = await onBackend("tensorflow", () => tf.clipByValue(tf.tensor1d(values), lo, hi));
      const [want] = await onBackend("tensorflow", () =>
        tf.maximum(tf.minimum(tf.tensor1d(values), tf.scalar(hi)), tf.scalar(lo)),
      );
      // equal values; a -0 input may come out as -0 where Maximum gives +0 (x + 0 makes both +0)
      expect(Array.from(got?.values ?? [], (v) => v + 0)).toEqual(
        Array.from(want?.values ?? [], (v) => v + 0),
      );
      const ints = Array.from(values.slice(3, 64), (v) => Math.round(v * 10) | 0);
      const [gotInt] = await onBackend("tensorflow", () => tf.clipByValue(tf.tensor1d(ints, "int32"), -5, 7));
      expect(Array.from(gotInt?.values ?? [])).toEqual(ints.map((v) => Math.min(Math.max(v, -5), 7)));
    }
    const grad = () =>
      tf.grad((x: tf.Tensor) =>
        tf.sum(tf.mul(tf.clipByValue(x, -0.5, 0.5), tf.tensor1d(values.slice(0, 16)))),
      )(tf.tensor1d(randomValues(16, 3)));
    const [g] = await onBackend("tensorflow", grad);
    const [gCpu] = await onBackend("cpu", grad);
    expect(Array.from(g?.values ?? [])).toEqual(Array.from(gCpu?.values ?? []));
  });
});
