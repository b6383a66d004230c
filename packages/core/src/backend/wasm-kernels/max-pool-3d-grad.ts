/**
 * MaxPool3DGrad for the wasm backend, replacing tfjs-backend-wasm 4.22's, which has the same bug
 * as its MaxPoolGrad (see max-pool-grad.ts): windows whose values are all <= 0 send their
 * gradient to the first pixel instead of the maximum. Same semantics as the cpu backend (the
 * gradient goes to the window's maximum, padding excluded, the last one on ties as the cpu
 * backend's 3-D pooling does), as a loop on the wasm heap with channels innermost.
 */
import {
  type KernelConfig,
  type KernelFunc,
  MaxPool3DGrad,
  type MaxPool3DGradAttrs,
  type MaxPool3DGradInputs,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { pool3DGeometry } from "./conv-args.js";
import { type BackendWasm, f32View } from "./kernel-utils.js";

export function maxPool3DGradWasm(args: {
  inputs: MaxPool3DGradInputs;
  backend: BackendWasm;
  attrs: MaxPool3DGradAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const input = inputs.input as TensorInfo;
  const dyInfo = inputs.dy as TensorInfo;
  const { B, D, H, W, C, OD, OH, OW, sd, sh, sw, dd, dh, dw, fd, fh, fw, pf, pt, pl } = pool3DGeometry(
    "MaxPool3DGrad",
    input.shape,
    attrs,
  );

  const out = backend.makeOutput(input.shape, "float32");
  const dx = f32View(backend, out);
  const x = f32View(backend, input);
  const dy = f32View(backend, dyInfo);
  dx.fill(0);
  const maxVal = new Float32Array(C);
  const maxPos = new Int32Array(C);
  const first = (corner: number, dil: number) => {
    let m = corner;
    while (m < 0) m += dil;
    return m;
  };
  let dyOff = 0;
  for (let b = 0; b < B; b++) {
    for (let yd = 0; yd < OD; yd++) {
      const d0 = yd * sd - pf;
      const dMax = Math.min(D, d0 + fd);
      for (let yr = 0; yr < OH; yr++) {
        const r0 = yr * sh - pt;
        const rMax = Math.min(H, r0 + fh);
        for (let yc = 0; yc < OW; yc++, dyOff += C) {
          const c0 = yc * sw - pl;
          const cMax = Math.min(W, c0 + fw);
          maxVal.fill(Number.NEGATIVE_INFINITY);
          maxPos.fill(-1);
          for (let d = first(d0, dd); d < dMax; d += dd) {
            for (let r = first(r0, dh); r < rMax; r += dh) {
              for (let c = first(c0, dw); c < cMax; c += dw) {
                const off = (((b * D + d) * H + r) * W + c) * C;
                for (let ch = 0; ch < C; ch++) {
                  const v = x[off + ch];
                  if (v >= maxVal[ch]) {
                    maxVal[ch] = v;
                    maxPos[ch] = off + ch;
                  }
                }
              }
            }
          }
          for (let ch = 0; ch < C; ch++) {
            const p = maxPos[ch];
            if (p >= 0) dx[p] += dy[dyOff + ch];
          }
        }
      }
    }
  }
  return out;
}

export const maxPool3DGradConfig: KernelConfig = {
  kernelName: MaxPool3DGrad,
  backendName: "wasm",
  kernelFunc: maxPool3DGradWasm as unknown as KernelFunc,
};
