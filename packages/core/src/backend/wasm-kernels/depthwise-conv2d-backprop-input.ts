/**
 * DepthwiseConv2dNativeBackpropInput for the wasm backend (missing in tfjs-backend-wasm 4.22;
 * needed to backpropagate through depthwise/separable convolutions).
 *
 * dX[b,ih,iw,c] = sum_{kh,kw,m} dY[b,oh,ow,c*M+m] * W[kh,kw,c,m] over ih = oh*s+kh*d-pt, ...
 *
 * A direct scatter-add loop on the wasm heap with channels innermost (see the filter gradient
 * for why a loop rather than XNNPACK).
 */
import {
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type DepthwiseConv2dNativeBackpropInputInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { conv2DGeometry } from "./conv-args.js";
import { type BackendWasm, f32View } from "./kernel-utils.js";

export function depthwiseConv2dNativeBackpropInputWasm(args: {
  inputs: DepthwiseConv2dNativeBackpropInputInputs;
  backend: BackendWasm;
  attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const {
    B,
    H,
    W,
    Ci: C,
    OH,
    OW,
    Co: CO,
    KH,
    KW,
    sh,
    sw,
    dh,
    dw,
    pt,
    pl,
  } = conv2DGeometry(attrs.inputShape, filter.shape, attrs, true);
  const M = CO / C;

  const out = backend.makeOutput([B, H, W, C], "float32");
  const dx = f32View(backend, out);
  const g = f32View(backend, dy);
  const w = f32View(backend, filter);
  dx.fill(0);
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const gOff = ((b * OH + oh) * OW + ow) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const ih = oh * sh + kh * dh - pt;
          if (ih < 0 || ih >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const iw = ow * sw + kw * dw - pl;
            if (iw < 0 || iw >= W) continue;
            const xOff = ((b * H + ih) * W + iw) * C;
            const wOff = (kh * KW + kw) * CO;
            if (M === 1) {
              for (let c = 0; c < C; c++) dx[xOff + c] += g[gOff + c] * w[wOff + c];
            } else {
              for (let c = 0; c < C; c++) {
                let s = 0;
                for (let m = 0; m < M; m++) s += g[gOff + c * M + m] * w[wOff + c * M + m];
                dx[xOff + c] += s;
              }
            }
          }
        }
      }
    }
  }
  return out;
}

export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: "wasm",
  kernelFunc: depthwiseConv2dNativeBackpropInputWasm as unknown as KernelFunc,
};
