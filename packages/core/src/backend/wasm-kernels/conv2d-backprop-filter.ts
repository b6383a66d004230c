/**
 * Conv2DBackpropFilter for the wasm backend (tfjs-backend-wasm 4.22 has none, so training any
 * convnet fails with "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'").
 *
 * The filter gradient is itself a convolution, run on the backend's XNNPACK Conv2D kernel:
 *
 *   dW[kh,kw,ci,co] = sum_{b,oh,ow} X[b, oh*s+kh-pt, ow*s+kw-pl, ci] * dY[b,oh,ow,co]
 *
 * Transposing X to X' = [Ci, H, W, B] and dY to dY' = [OH, OW, B, Co] makes it
 * `conv2d(X', dY', stride 1, dilation s)`: the "images" are the Ci input channels, the
 * "channels" being contracted are the batch, the "filter" is the output gradient (dilated by the
 * forward stride) and the output [Ci, KH, KW, Co] is the filter gradient, transposed at the end.
 * Explicit padding reproduces the forward padding; input rows/columns the forward pass never read
 * (valid padding with a remainder) are cropped.
 *
 * Why chunks: as one convolution, the contraction length is OH*OW*B (131072 for a 32x32 batch
 * of 128), and XNNPACK's micro-kernels run the whole contraction for every output tile, so the
 * packed "filter" (the 32 MiB output gradient) streams from memory for every tile: the kernel is
 * memory-bound, ~2.5x the time of the forward conv. Splitting the output-gradient rows (and, for
 * big batches, the batch) into chunks (see CHUNK_K) keeps each call's packed weights near L2 size;
 * the partial filter gradients are summed in place.
 *
 * The transposes are done here in JS (tiled for X, runs of Co for dY): tfjs-backend-wasm's
 * Transpose kernel is a scalar loop, ~6x slower, and took as long as the convolution itself.
 * im2col + matmul was not an option: it copies the input KH*KW times and the backend's matmul with
 * a transposed operand is a scalar loop (reported ~12x slower than the forward conv).
 */
import {
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropFilterInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { conv2DGeometry, requireFloat32 } from "./conv-args.js";
import {
  type BackendWasm,
  disposeAll,
  f32View,
  heapF32,
  heapIndex,
  runWasmKernel,
  swapOuterInner,
  transpose,
} from "./kernel-utils.js";

/**
 * Contraction length (rows * OW * batch) of one chunked convolution. By default it keeps the
 * packed output-gradient chunk (K x Co floats) near 2 MiB: K = 2^19 / Co, within [512, 8192].
 * Measured on a 2-vCPU AMD EPYC (1 MiB L2) at batch 128, filter-grad time over forward time:
 * 8x8x256: 1.83 with K = 8192, 1.52 with K = 2048; 16x16x128: 1.72 -> 1.64; 32x32x64 and 4x4x512
 * flat (1.5, 1.1). Smaller K costs more calls (operator creation and weight packing in XNNPACK).
 * `value` overrides it (tests use tiny chunks to exercise the chunking).
 */
export const CHUNK_K: { value: number | undefined } = { value: undefined };

function chunkK(outChannels: number): number {
  if (CHUNK_K.value !== undefined) return CHUNK_K.value;
  return Math.min(8192, Math.max(512, Math.floor(2 ** 19 / outChannels)));
}

export function conv2DBackpropFilterWasm(args: {
  inputs: Conv2DBackpropFilterInputs;
  backend: BackendWasm;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  let x = inputs.x as TensorInfo;
  let dy = inputs.dy as TensorInfo;
  requireFloat32("Conv2DBackpropFilter", x, dy);
  const nchw = attrs.dataFormat === "NCHW";
  if (nchw) {
    // Rare (wasm's own Conv2D refuses NCHW): work in NHWC.
    x = transpose(backend, x, [0, 2, 3, 1]);
    dy = transpose(backend, dy, [0, 2, 3, 1]);
  }
  const { B, H, W, Ci, OH, OW, Co, KH, KW, sh, sw, pt, pl } = conv2DGeometry(
    x.shape,
    attrs.filterShape,
    attrs,
  );

  // Contraction chunks: output-gradient rows [r0, r1) x batch images [b0, b1), about CHUNK_K
  // elements each. X' is laid out per batch chunk: [nb][Ci, H, W, bc], so a chunk's input rows
  // are contiguous runs.
  const perRow = OW * B;
  const targetK = chunkK(Co);
  let rowsPerChunk: number;
  let bc: number;
  if (perRow <= targetK) {
    rowsPerChunk = Math.max(1, Math.min(OH, Math.floor(targetK / perRow)));
    bc = B;
  } else {
    rowsPerChunk = 1;
    const nb = Math.ceil(perRow / targetK);
    bc = Math.ceil(B / nb);
  }
  const nb = Math.ceil(B / bc);

  // X' chunks, a tiled JS transpose of [bc, H*W, Ci] -> [Ci, H*W, bc] per batch chunk (the
  // backend's Transpose kernel is a scalar loop, ~6x slower).
  const xt = backend.makeOutput([B * H * W * Ci], "float32");
  {
    const heap = heapF32(backend, xt);
    const src = heapIndex(backend, x);
    const dst = heapIndex(backend, xt);
    for (let j = 0; j < nb; j++) {
      const b0 = j * bc;
      const n = Math.min(bc, B - b0);
      swapOuterInner(heap, src + b0 * H * W * Ci, heap, dst + b0 * H * W * Ci, n, H * W, Ci);
    }
  }

  // Input columns the forward pass reads: [-pl, colEnd).
  const colEnd = (OW - 1) * sw - pl + KW;
  const Wc = Math.min(W, colEnd);
  const padR = colEnd - Wc;

  let acc: TensorInfo | undefined;
  for (let j = 0; j < nb; j++) {
    const b0 = j * bc;
    const n = Math.min(bc, B - b0);
    const xtStart = b0 * H * W * Ci; // offset of this batch chunk's [Ci, H, W, n] block
    for (let r0 = 0; r0 < OH; r0 += rowsPerChunk) {
      const r1 = Math.min(OH, r0 + rowsPerChunk);
      const i0 = r0 * sh - pt; // first input row read by this chunk (may be in the padding)
      const i1 = (r1 - 1) * sh - pt + KH; // one past the last
      const lo = Math.max(i0, 0);
      const hi = Math.min(i1, H);
      if (hi <= lo) continue; // these output rows only ever saw padding: no contribution
      const xIn = backend.makeOutput([Ci, hi - lo, Wc, n], "float32");
      // dY' rows [r0, r1): [r1-r0, OW, n, Co], gathered from dY [B, OH, OW, Co] in runs of Co.
      const f = backend.makeOutput([r1 - r0, OW, n, Co], "float32");
      const heap = heapF32(backend, f);
      {
        const src = heapIndex(backend, xt) + xtStart;
        const dst = heapIndex(backend, xIn);
        if (Wc === W) {
          const run = (hi - lo) * W * n;
          for (let ci = 0; ci < Ci; ci++) {
            const s = src + (ci * H + lo) * W * n;
            heap.copyWithin(dst + ci * run, s, s + run);
          }
        } else {
          const run = Wc * n;
          let o = dst;
          for (let ci = 0; ci < Ci; ci++) {
            for (let r = lo; r < hi; r++, o += run) {
              const s = src + (ci * H + r) * W * n;
              heap.copyWithin(o, s, s + run);
            }
          }
        }
      }
      {
        const src = heapIndex(backend, dy);
        let o = heapIndex(backend, f);
        for (let r = r0; r < r1; r++) {
          for (let ow = 0; ow < OW; ow++) {
            for (let b = b0; b < b0 + n; b++, o += Co) {
              const s = src + ((b * OH + r) * OW + ow) * Co;
              heap.copyWithin(o, s, s + Co);
            }
          }
        }
      }
      const part = runWasmKernel(
        backend,
        "Conv2D",
        { x: xIn, filter: f },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [lo - i0, i1 - hi],
            [pl, padR],
            [0, 0],
          ],
          dilations: [sh, sw],
          dataFormat: "NHWC",
          dimRoundingMode: undefined,
        },
      );
      disposeAll(backend, f, xIn);
      if (acc === undefined) {
        acc = part;
      } else {
        const a = f32View(backend, acc);
        const p = f32View(backend, part);
        for (let i = 0; i < a.length; i++) a[i] += p[i];
        disposeAll(backend, part);
      }
    }
  }
  disposeAll(backend, xt);
  if (nchw) disposeAll(backend, x, dy);
  if (acc === undefined) {
    // Every output row saw only padding (degenerate shapes): the gradient is zero.
    const zero = backend.makeOutput([KH, KW, Ci, Co], "float32");
    f32View(backend, zero).fill(0);
    return zero;
  }
  const dw = transpose(backend, acc, [1, 2, 0, 3]);
  disposeAll(backend, acc);
  return dw;
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2DBackpropFilterWasm as unknown as KernelFunc,
};
