/**
 * DepthwiseConv2dNativeBackpropFilter for the wasm backend (missing in tfjs-backend-wasm 4.22;
 * needed to train depthwise/separable convolutions, e.g. MobileNet-style backbones).
 *
 * dW[kh,kw,c,m] = sum_{b,oh,ow} X[b, oh*s+kh*d-pt, ow*s+kw*d-pl, c] * dY[b,oh,ow,c*M+m]
 *
 * XNNPACK as exposed by the backend cannot compute this per-channel correlation (its depthwise
 * convolution sums over taps, not over the batch and positions), so this is a direct loop on the
 * wasm heap, ordered to read X and dY sequentially (channels innermost) with float64 accumulators.
 * Depthwise layers have Ci times fewer multiply-adds than dense ones, so a scalar loop is
 * affordable; none of selfsup's built-in backbones uses them.
 */
import {
  DepthwiseConv2dNativeBackpropFilter,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropFilterInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { conv2DGeometry } from "./conv-args.js";
import { type BackendWasm, f32View } from "./kernel-utils.js";

export function depthwiseConv2dNativeBackpropFilterWasm(args: {
  inputs: DepthwiseConv2dNativeBackpropFilterInputs;
  backend: BackendWasm;
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
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
  } = conv2DGeometry(x.shape, attrs.filterShape, attrs, true);
  const M = CO / C;

  const acc = new Float64Array(KH * KW * CO);
  const out = backend.makeOutput([KH, KW, C, M], "float32");
  const xs = f32View(backend, x);
  const g = f32View(backend, dy);
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
            const aOff = (kh * KW + kw) * CO;
            if (M === 1) {
              for (let c = 0; c < C; c++) acc[aOff + c] += xs[xOff + c] * g[gOff + c];
            } else {
              for (let c = 0; c < C; c++) {
                const xv = xs[xOff + c];
                for (let m = 0; m < M; m++) acc[aOff + c * M + m] += xv * g[gOff + c * M + m];
              }
            }
          }
        }
      }
    }
  }
  f32View(backend, out).set(acc);
  return out;
}

export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: "wasm",
  kernelFunc: depthwiseConv2dNativeBackpropFilterWasm as unknown as KernelFunc,
};
