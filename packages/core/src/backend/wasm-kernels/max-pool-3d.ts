/**
 * MaxPool3D for the wasm backend, replacing tfjs-backend-wasm 4.22's, whose C++ (shared with its
 * MaxPool3DGrad, see max-pool-grad.ts) starts every window's maximum at
 * `std::numeric_limits<float>::min()` = 1.18e-38: a window of values that are all <= 0 outputs
 * 1.18e-38 instead of its maximum. (2-D MaxPool runs on XNNPACK and is correct.) A loop on the
 * wasm heap with channels innermost, same semantics as the cpu backend.
 */
import {
  type KernelConfig,
  type KernelFunc,
  MaxPool3D,
  type MaxPool3DAttrs,
  type MaxPool3DInputs,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { pool3DGeometry } from "./conv-args.js";
import { type BackendWasm, f32View } from "./kernel-utils.js";

export function maxPool3DWasm(args: {
  inputs: MaxPool3DInputs;
  backend: BackendWasm;
  attrs: MaxPool3DAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const input = inputs.x as TensorInfo;
  const { B, D, H, W, C, OD, OH, OW, sd, sh, sw, dd, dh, dw, fd, fh, fw, pf, pt, pl } = pool3DGeometry(
    "MaxPool3D",
    input.shape,
    attrs,
  );

  const out = backend.makeOutput([B, OD, OH, OW, C], "float32");
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
