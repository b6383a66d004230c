/**
 * Helpers shared by selfsup's wasm training kernels.
 *
 * The kernels here compose tfjs-backend-wasm's own (C++/XNNPACK) kernels by calling their
 * `kernelFunc`s directly, the way tfjs' backends call each other, rather than through tf ops:
 * inside a kernel the engine must not see nested ops (they would be recorded on the gradient tape
 * and counted as kernel outputs). Intermediate TensorInfos are therefore owned by the kernel and
 * released with `backend.disposeData`.
 *
 * Heap views (`Float32Array`s over the wasm memory) are invalidated whenever wasm memory grows,
 * which any allocation can trigger, so views are always taken after the last allocation.
 */
import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { getKernel, type NamedAttrMap, type TensorInfo } from "@tensorflow/tfjs-core";

export type { BackendWasm };

/** Runs a kernel that tfjs-backend-wasm (or selfsup) registered for "wasm" and returns its single output. */
export function runWasmKernel(
  backend: BackendWasm,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: object = {},
): TensorInfo {
  const config = getKernel(kernelName, "wasm");
  if (config == null) throw new Error(`selfsup: kernel '${kernelName}' is not registered for backend 'wasm'`);
  const out = config.kernelFunc({ inputs, backend, attrs: attrs as NamedAttrMap });
  if (Array.isArray(out))
    throw new Error(`selfsup: kernel '${kernelName}' returned ${out.length} outputs, expected 1`);
  return out;
}

/** Releases intermediate tensors created inside a kernel. */
export function disposeAll(backend: BackendWasm, ...infos: (TensorInfo | undefined)[]): void {
  for (const t of infos) if (t !== undefined) backend.disposeData(t.dataId);
}

/** A float32 view of a tensor's data on the wasm heap (no copy). Re-take it after any allocation. */
export function f32View(backend: BackendWasm, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** An int32 view of a tensor's data on the wasm heap (no copy). Re-take it after any allocation. */
export function i32View(backend: BackendWasm, t: TensorInfo): Int32Array {
  return backend.typedArrayFromHeap(t) as Int32Array;
}

export function transpose(backend: BackendWasm, x: TensorInfo, perm: number[]): TensorInfo {
  return runWasmKernel(backend, "Transpose", { x }, { perm });
}

/** A reshaped alias of `x` (shares its data; dispose it like any other output). */
export function reshape(backend: BackendWasm, x: TensorInfo, shape: number[]): TensorInfo {
  return runWasmKernel(backend, "Reshape", { x }, { shape });
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * A float32 view of the whole wasm heap, for `copyWithin` between tensors without allocating a
 * view per copied run. Indices are `memoryOffset / 4`; `heapIndex` gives a tensor's.
 */
export function heapF32(backend: BackendWasm, anyTensor: TensorInfo): Float32Array {
  return new Float32Array(f32View(backend, anyTensor).buffer);
}

/** Element index of a tensor's first value in `heapF32`. */
export function heapIndex(backend: BackendWasm, t: TensorInfo): number {
  return f32View(backend, t).byteOffset >>> 2;
}

/**
 * dst[c, p, a] = src[a, p, c] for src of shape [A, P, C], in 16x16 tiles. tfjs-backend-wasm's
 * Transpose kernel is a scalar loop that measured ~6x slower than this for [128, 1024, 64].
 */
export function swapOuterInner(
  src: Float32Array,
  srcStart: number,
  dst: Float32Array,
  dstStart: number,
  A: number,
  P: number,
  C: number,
): void {
  const T = 16;
  const sA = P * C; // src stride of a
  const dC = P * A; // dst stride of c
  for (let p = 0; p < P; p++) {
    const sp = srcStart + p * C;
    const dp = dstStart + p * A;
    for (let a0 = 0; a0 < A; a0 += T) {
      const a1 = Math.min(A, a0 + T);
      for (let c0 = 0; c0 < C; c0 += T) {
        const c1 = Math.min(C, c0 + T);
        for (let c = c0; c < c1; c++) {
          const d = dp + c * dC;
          let s = sp + a0 * sA + c;
          for (let a = a0; a < a1; a++, s += sA) dst[d + a] = src[s];
        }
      }
    }
  }
}
