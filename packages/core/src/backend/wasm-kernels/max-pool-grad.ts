/**
 * MaxPoolGrad for the wasm backend, replacing tfjs-backend-wasm 4.22's, which is wrong: its C++
 * (src/cc/kernels/MaxPoolGrad.cc) starts each window's running maximum at
 * `std::numeric_limits<float>::min()` (the smallest *positive* float, not the lowest), so in every
 * window whose values are all <= 0 the gradient goes to the window's first pixel instead of its
 * maximum. After a ReLU this rarely shows; max-pooling anything that can be negative (pre-
 * activation features, normalised inputs) silently trains on wrong gradients. Found by
 * test/backend/op-coverage.test.ts.
 *
 * Same semantics as the cpu backend: the gradient of each output goes to the first maximum of
 * its window (padding excluded). A loop on the wasm heap with channels innermost: one pass over
 * the windows, memory-bound, small next to the convolutions around it.
 */
import {
  type KernelConfig,
  type KernelFunc,
  MaxPoolGrad,
  type MaxPoolGradAttrs,
  type MaxPoolGradInputs,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { pool2DGeometry } from "./conv-args.js";
import { type BackendWasm, f32View } from "./kernel-utils.js";

export function maxPoolGradWasm(args: {
  inputs: MaxPoolGradInputs;
  backend: BackendWasm;
  attrs: MaxPoolGradAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const input = inputs.input as TensorInfo;
  const dyInfo = inputs.dy as TensorInfo;
  const { B, H, W, C, OH, OW, sh, sw, dh, dw, fh, fw, pt, pl } = pool2DGeometry(input.shape, attrs);

  const out = backend.makeOutput(input.shape, "float32");
  const dx = f32View(backend, out);
  const x = f32View(backend, input);
  const dy = f32View(backend, dyInfo);
  dx.fill(0);
  const maxVal = new Float32Array(C);
  const maxPos = new Int32Array(C);
  for (let b = 0; b < B; b++) {
    for (let yr = 0; yr < OH; yr++) {
      const r0 = yr * sh - pt;
      let rMin = r0;
      while (rMin < 0) rMin += dh;
      const rMax = Math.min(H, r0 + fh);
      for (let yc = 0; yc < OW; yc++) {
        const c0 = yc * sw - pl;
        let cMin = c0;
        while (cMin < 0) cMin += dw;
        const cMax = Math.min(W, c0 + fw);
        maxVal.fill(Number.NEGATIVE_INFINITY);
        maxPos.fill(-1);
        for (let r = rMin; r < rMax; r += dh) {
          for (let c = cMin; c < cMax; c += dw) {
            const off = ((b * H + r) * W + c) * C;
            for (let d = 0; d < C; d++) {
              const v = x[off + d];
              if (v > maxVal[d]) {
                maxVal[d] = v;
                maxPos[d] = off + d;
              }
            }
          }
        }
        const dyOff = ((b * OH + yr) * OW + yc) * C;
        for (let d = 0; d < C; d++) {
          const p = maxPos[d];
          if (p >= 0) dx[p] += dy[dyOff + d];
        }
      }
    }
  }
  return out;
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: "wasm",
  kernelFunc: maxPoolGradWasm as unknown as KernelFunc,
};
