/**
 * MaxPool3D for the wasm backend, replacing tfjs-backend-wasm 4.22's, whose C++ (shared with its
 * MaxPool3DGrad, see max-pool-grad.ts) starts every window's maximum at
 * `std::numeric_limits<float>::min()` = 1.18e-38: a window of values that are all <= 0 outputs
 * 1.18e-38 instead of its maximum. (2-D MaxPool runs on XNNPACK and is correct.) A loop on the
 * wasm heap with channels innermost, same semantics as the cpu backend.
 */
import {
  backend_util,
  type KernelConfig,
  type KernelFunc,
  MaxPool3D,
  type MaxPool3DAttrs,
  type MaxPool3DInputs,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { type BackendWasm, f32View } from "./kernel-utils.js";

export function maxPool3DWasm(args: {
  inputs: MaxPool3DInputs;
  backend: BackendWasm;
  attrs: MaxPool3DAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const input = inputs.x as TensorInfo;
  const { filterSize, strides, pad, dimRoundingMode, dataFormat } = attrs;
  const info = backend_util.computePool3DInfo(
    input.shape as [number, number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
    dataFormat,
  );
  if (info.dataFormat !== "channelsLast") throw new Error("MaxPool3D on wasm supports NDHWC only");
  const { batchSize: B, inDepth: D, inHeight: H, inWidth: W, inChannels: C } = info;
  const { outDepth: OD, outHeight: OH, outWidth: OW } = info;
  const { strideDepth: sd, strideHeight: sh, strideWidth: sw } = info;
  const { dilationDepth: dd, dilationHeight: dh, dilationWidth: dw } = info;
  const fd = info.effectiveFilterDepth;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const { front: pf, top: pt, left: pl } = info.padInfo;

  const out = backend.makeOutput(info.outShape, "float32");
  const y = f32View(backend, out);
  const x = f32View(backend, input);
  const first = (corner: number, dil: number) => {
    let m = corner;
    while (m < 0) m += dil;
    return m;
  };
  let o = 0;
  for (let b = 0; b < B; b++) {
    for (let od = 0; od < OD; od++) {
      const d0 = od * sd - pf;
      const dMax = Math.min(D, d0 + fd);
      for (let or = 0; or < OH; or++) {
        const r0 = or * sh - pt;
        const rMax = Math.min(H, r0 + fh);
        for (let oc = 0; oc < OW; oc++, o += C) {
          const c0 = oc * sw - pl;
          const cMax = Math.min(W, c0 + fw);
          y.fill(Number.NEGATIVE_INFINITY, o, o + C);
          for (let d = first(d0, dd); d < dMax; d += dd) {
            for (let r = first(r0, dh); r < rMax; r += dh) {
              for (let c = first(c0, dw); c < cMax; c += dw) {
                const off = (((b * D + d) * H + r) * W + c) * C;
                for (let ch = 0; ch < C; ch++) {
                  const v = x[off + ch];
                  if (v > y[o + ch]) y[o + ch] = v;
                }
              }
            }
          }
        }
      }
    }
  }
  return out;
}

export const maxPool3DConfig: KernelConfig = {
  kernelName: MaxPool3D,
  backendName: "wasm",
  kernelFunc: maxPool3DWasm as unknown as KernelFunc,
};
