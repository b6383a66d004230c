/**
 * selfsup's fused Adam/AdamW parameter update (ADAM_UPDATE, see ../fused-kernels.ts) for wasm:
 * one pass over the parameter, its gradient and both moments on the wasm heap, where the
 * composite form is ~15 tfjs ops per parameter (each a kernel dispatch and a full-size temporary):
 * ~300 dispatches per step for a small convnet, more than the arithmetic they carry.
 *
 *   g = grad + l2·p;  m' = β1·m + (1-β1)·g;  v' = β2·v + (1-β2)·g²
 *   p' = decay·p - lr·(m'/c1) / (sqrt(v'/c2) + eps)
 *
 * (l2 = Adam's coupled weight decay, decay = 1 - lr·wd for AdamW, c1 = 1-β1^t, c2 = 1-β2^t).
 */
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from "@tensorflow/tfjs-core";
import { ADAM_UPDATE, type AdamUpdateAttrs } from "../fused-kernels.js";
import { type BackendWasm, f32View } from "./kernel-utils.js";

export function adamUpdateWasm(args: {
  inputs: { param: TensorInfo; grad: TensorInfo; m: TensorInfo; v: TensorInfo };
  backend: BackendWasm;
  attrs: NamedAttrMap;
}): TensorInfo[] {
  const { inputs, backend } = args;
  const { lr, beta1, beta2, eps, l2, decay, c1, c2 } = args.attrs as unknown as AdamUpdateAttrs;
  const { param, grad, m, v } = inputs;
  for (const t of [param, grad, m, v]) {
    if (t.dtype !== "float32") throw new Error(`${ADAM_UPDATE} on wasm: float32 only, got ${t.dtype}`);
  }
  const pOut = backend.makeOutput(param.shape, "float32");
  const mOut = backend.makeOutput(param.shape, "float32");
  const vOut = backend.makeOutput(param.shape, "float32");
  // Views after the last allocation (an allocation may grow, and detach, the heap).
  const P = f32View(backend, param);
  const G = f32View(backend, grad);
  const M = f32View(backend, m);
  const V = f32View(backend, v);
  const PO = f32View(backend, pOut);
  const MO = f32View(backend, mOut);
  const VO = f32View(backend, vOut);
  const b1c = 1 - beta1;
  const b2c = 1 - beta2;
  const step = lr / c1;
  const sc2 = 1 / c2;
  for (let i = 0; i < P.length; i++) {
    const p = P[i] as number;
    const g = (G[i] as number) + l2 * p;
    const mi = Math.fround(beta1 * (M[i] as number) + b1c * g);
    const vi = Math.fround(beta2 * (V[i] as number) + b2c * g * g);
    MO[i] = mi;
    VO[i] = vi;
    PO[i] = decay * p - (step * mi) / (Math.sqrt(vi * sc2) + eps);
  }
  return [pOut, mOut, vOut];
}

export const adamUpdateConfig: KernelConfig = {
  kernelName: ADAM_UPDATE,
  backendName: "wasm",
  kernelFunc: adamUpdateWasm as unknown as KernelFunc,
};
