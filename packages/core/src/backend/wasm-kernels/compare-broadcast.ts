/**
 * Comparisons (Equal, NotEqual, Greater, GreaterEqual, Less, LessEqual) with broadcasting on wasm.
 * tfjs-backend-wasm 4.22 builds them without its fast broadcast path (`supportsFullBroadcast =
 * false`): a broadcast comparison computes every element's input indices generically in C++,
 * ~95 ns per element, so `equal(x [512,512], rowMax [512,1])` (the gradient of tf.max inside
 * every logSumExp, e.g. NT-Xent's) took 25 ms of a 700 ms convnet step. Here, operands of
 * different shapes go through one strided JS pass (~0.5 ms for that case); equal shapes keep the
 * backend's own kernel, which is fast.
 */
import {
  backend_util,
  Equal,
  Greater,
  GreaterEqual,
  type KernelConfig,
  type KernelFunc,
  Less,
  LessEqual,
  NotEqual,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import type { BackendWasm } from "./kernel-utils.js";

type Compare = (a: number, b: number) => boolean;

const COMPARISONS: Record<string, Compare> = {
  [Equal]: (a, b) => a === b,
  [NotEqual]: (a, b) => a !== b,
  [Greater]: (a, b) => a > b,
  [GreaterEqual]: (a, b) => a >= b,
  [Less]: (a, b) => a < b,
  [LessEqual]: (a, b) => a <= b,
};

/** Element strides of `shape` aligned right to `rank` dims, 0 where it broadcasts. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const dim = shape[i] as number;
    const o = rank - shape.length + i;
    strides[o] = dim === 1 ? 0 : s;
    s *= dim;
  }
  return strides;
}

/** out[i] = cmp(a[ia], b[ib]) over the broadcast shape, with an odometer over the dims. */
export function compareBroadcast(
  a: ArrayLike<number>,
  aShape: readonly number[],
  b: ArrayLike<number>,
  bShape: readonly number[],
  outShape: readonly number[],
  out: Uint8Array,
  cmp: Compare,
): void {
  const rank = outShape.length;
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const inner = rank > 0 ? (outShape[rank - 1] as number) : 1;
  const ia0 = rank > 0 ? (sa[rank - 1] as number) : 0;
  const ib0 = rank > 0 ? (sb[rank - 1] as number) : 0;
  const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < out.length; o += inner) {
    for (let j = 0, pa = ia, pb = ib; j < inner; j++, pa += ia0, pb += ib0) {
      out[o + j] = cmp(a[pa] as number, b[pb] as number) ? 1 : 0;
    }
    // advance the outer index (dims rank-2 .. 0)
    for (let d = rank - 2; d >= 0; d--) {
      const next = (idx[d] as number) + 1;
      if (next < (outShape[d] as number)) {
        idx[d] = next;
        ia += sa[d] as number;
        ib += sb[d] as number;
        break;
      }
      idx[d] = 0;
      ia -= (sa[d] as number) * ((outShape[d] as number) - 1);
      ib -= (sb[d] as number) * ((outShape[d] as number) - 1);
    }
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The wrapping kernel for one comparison; `original` is the backend's own kernelFunc. */
export function compareBroadcastConfig(kernelName: string, original: KernelFunc): KernelConfig {
  const cmp = COMPARISONS[kernelName];
  if (cmp === undefined) throw new Error(`compareBroadcastConfig: ${kernelName} is not a comparison`);
  const kernelFunc = (args: { inputs: { a: TensorInfo; b: TensorInfo }; backend: BackendWasm }) => {
    const { a, b } = args.inputs;
    const { backend } = args;
    if (sameShape(a.shape, b.shape) || a.dtype === "string" || a.dtype !== b.dtype) {
      return original(args as unknown as Parameters<KernelFunc>[0]);
    }
    const outShape = backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const out = backend.makeOutput(outShape, "bool");
    const outView = backend.typedArrayFromHeap(out) as Uint8Array;
    const av = backend.typedArrayFromHeap(a) as ArrayLike<number>;
    const bv = backend.typedArrayFromHeap(b) as ArrayLike<number>;
    if (outView.length > 0) compareBroadcast(av, a.shape, bv, b.shape, outShape, outView, cmp);
    return out;
  };
  return { kernelName, backendName: "wasm", kernelFunc: kernelFunc as unknown as KernelFunc };
}

export const COMPARISON_KERNELS = Object.keys(COMPARISONS);
