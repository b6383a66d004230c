/**
 * BatchMatMul for the wasm backend, wrapping tfjs-backend-wasm's own.
 *
 * The backend sends a matmul to XNNPACK only when neither operand is transposed and both have
 * batch size 1; everything else runs a scalar blocked triple loop that measured ~25x slower
 * (512^3: 0.9 GFLOP/s against 23). Backpropagation through a dense layer is exactly the
 * transposed case (dX = dY.W^T, dW = X^T.dY) and attention is the batched one, so training spent
 * most of its time there. This wrapper transposes operands itself (a tiled copy, O(MK + KN)
 * against the O(MKN) product), folds a shared right-hand matrix into one big matmul, and
 * otherwise issues one XNNPACK matmul per batch entry. Tiny products stay on the original kernel,
 * where the per-call setup would dominate.
 */
import {
  BatchMatMul,
  type BatchMatMulAttrs,
  type BatchMatMulInputs,
  broadcast_util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { type BackendWasm, disposeAll, heapF32, heapIndex, sizeOf, swapOuterInner } from "./kernel-utils.js";

/** Products with fewer multiply-adds per batch entry than this use the original kernel. */
export const MIN_FAST_MACS = { value: 32 * 1024 };

type Args = { inputs: BatchMatMulInputs; backend: BackendWasm; attrs: BatchMatMulAttrs };

let original: KernelFunc | undefined;

/** Set at registration: the backend's own BatchMatMul, which this wraps. */
export function setOriginalBatchMatMul(kernelFunc: KernelFunc): void {
  original = kernelFunc;
}

function runOriginal(
  backend: BackendWasm,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
) {
  if (original === undefined) throw new Error("selfsup: the wasm BatchMatMul kernel was not found");
  return original({ inputs: { a, b }, backend, attrs: { transposeA, transposeB } }) as TensorInfo;
}

/**
 * Copies `count` matrices of [rows, cols] starting at matrix `first` of `src` into a new
 * [count, cols, rows] (transpose) or [count, rows, cols] tensor.
 */
function copyMatrices(
  backend: BackendWasm,
  src: TensorInfo,
  first: number,
  count: number,
  rows: number,
  cols: number,
  transposed: boolean,
): TensorInfo {
  const out = backend.makeOutput(transposed ? [count, cols, rows] : [count, rows, cols], "float32");
  const heap = heapF32(backend, out);
  const s = heapIndex(backend, src) + first * rows * cols;
  const d = heapIndex(backend, out);
  if (transposed) {
    for (let i = 0; i < count; i++)
      swapOuterInner(heap, s + i * rows * cols, heap, d + i * rows * cols, rows, 1, cols);
  } else {
    heap.copyWithin(d, s, s + count * rows * cols);
  }
  return out;
}

export function batchMatMulWasm(args: Args): TensorInfo {
  const { inputs, backend, attrs } = args;
  const a = inputs.a as TensorInfo;
  const b = inputs.b as TensorInfo;
  const transposeA = attrs.transposeA ?? false;
  const transposeB = attrs.transposeB ?? false;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  const fastPathAlready = !transposeA && !transposeB && batchA === 1 && batchB === 1;
  let outBatchShape: number[] | undefined;
  try {
    outBatchShape = broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    outBatchShape = undefined; // the original kernel reports the error
  }
  // Only "same batch" or "one side has batch 1" map onto per-entry matmuls.
  const simpleBatch =
    outBatchShape !== undefined &&
    (batchA === batchB || batchA === 1 || batchB === 1) &&
    sizeOf(outBatchShape) === Math.max(batchA, batchB);
  if (
    fastPathAlready ||
    !simpleBatch ||
    outBatchShape === undefined ||
    a.dtype !== "float32" ||
    b.dtype !== "float32" ||
    K !== Kb ||
    M * K * N < MIN_FAST_MACS.value
  ) {
    return runOriginal(backend, a, b, transposeA, transposeB);
  }
  const outShape = outBatchShape.concat([M, N]);

  // Operands as plain row-major [batch, M, K] and [batch, K, N].
  const aRows = transposeA ? K : M;
  const aCols = transposeA ? M : K;
  const bRows = transposeB ? N : K;
  const bCols = transposeB ? K : N;
  const aa = transposeA ? copyMatrices(backend, a, 0, batchA, aRows, aCols, true) : undefined;
  const bb = transposeB && batchB === 1 ? copyMatrices(backend, b, 0, 1, bRows, bCols, true) : undefined;
  const A = aa ?? a;

  if (batchB === 1) {
    // One XNNPACK matmul: [batchA * M, K] x [K, N].
    const a2 = { dataId: A.dataId, shape: [1, batchA * M, K], dtype: A.dtype };
    const b2 =
      bb !== undefined
        ? { dataId: bb.dataId, shape: [1, K, N], dtype: bb.dtype }
        : { dataId: b.dataId, shape: [1, K, N], dtype: b.dtype };
    const out = runOriginal(backend, a2, b2, false, false);
    disposeAll(backend, aa, bb);
    return { dataId: out.dataId, shape: outShape, dtype: out.dtype };
  }

  // One XNNPACK matmul per batch entry. XNNPACK caches the packed right-hand matrix by tensor id,
  // so every entry gets a fresh tensor (disposing it releases the cached operator).
  const batch = Math.max(batchA, batchB);
  const out = backend.makeOutput(outShape, "float32");
  for (let i = 0; i < batch; i++) {
    const ai = batchA === 1 ? undefined : copyMatrices(backend, A, i, 1, M, K, false);
    const bi = copyMatrices(backend, b, i, 1, bRows, bCols, transposeB);
    const ai2 = ai ?? { dataId: A.dataId, shape: [1, M, K], dtype: A.dtype };
    const oi = runOriginal(backend, ai2, bi, false, false);
    const heap = heapF32(backend, out);
    const s = heapIndex(backend, oi);
    heap.copyWithin(heapIndex(backend, out) + i * M * N, s, s + M * N);
    disposeAll(backend, ai, bi, oi);
  }
  disposeAll(backend, aa);
  return out;
}

export const batchMatMulConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: "wasm",
  kernelFunc: batchMatMulWasm as unknown as KernelFunc,
};
