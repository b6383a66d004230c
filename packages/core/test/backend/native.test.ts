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
