/**
 * UnsortedSegmentSum for the wasm backend (missing in tfjs-backend-wasm 4.22). It is the gradient
 * of `gather`, so without it no embedding table, positional embedding or class token can be
 * trained on wasm ("Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'").
 *
 * out[segmentIds[i], ...] += x[i, ...], rows whose id is outside [0, numSegments) are dropped
 * (TensorFlow's semantics). It is a memory-bound scatter-add, done in place on the wasm heap
 * (one pass over x) rather than the cpu backend's one masked full-size sum per segment.
 */
import {
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  UnsortedSegmentSum,
  type UnsortedSegmentSumAttrs,
  type UnsortedSegmentSumInputs,
} from "@tensorflow/tfjs-core";
import { type BackendWasm, f32View, i32View, sizeOf } from "./kernel-utils.js";

export function unsortedSegmentSumWasm(args: {
  inputs: UnsortedSegmentSumInputs;
  backend: BackendWasm;
  attrs: UnsortedSegmentSumAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const ids = inputs.segmentIds as TensorInfo;
  const { numSegments } = attrs;
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32, got ${x.dtype}`);
  }
  const idsRank = ids.shape.length;
  const rows = sizeOf(ids.shape);
  const inner = sizeOf(x.shape.slice(idsRank));
  const out = backend.makeOutput([numSegments, ...x.shape.slice(idsRank)], x.dtype);
  const view = (t: TensorInfo) => (x.dtype === "float32" ? f32View(backend, t) : i32View(backend, t));
  const o = view(out);
  const xs = view(x);
  const s = i32View(backend, ids);
  o.fill(0);
  for (let i = 0; i < rows; i++) {
    const seg = s[i];
    if (seg < 0 || seg >= numSegments) continue;
    const src = i * inner;
    const dst = seg * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j];
  }
  return out;
}

export const unsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: "wasm",
  kernelFunc: unsortedSegmentSumWasm as unknown as KernelFunc,
};
