/**
 * Fixes selfsup adds to tfjs-backend-webgpu 4.22 for training, found by
 * test/backend/op-coverage.test.ts (every op our models and losses use, and its gradient, against
 * the cpu backend; it includes webgpu when an adapter can be had). Each wraps the backend's own
 * kernel and handles only the case it gets wrong:
 *
 * - LinSpace with num = 1: the shader computes start + i·(stop - start)/(num - 1), NaN at i = 0
 *   (cpu gives [start]); it is what `tf.linspace(a, b, size)` returns for a scalar.
 * - UnsortedSegmentSum on int32: wrong sums (the shader's atomics are float-only); computed on
 *   the CPU from the read values (int32 segment sums are counts, small).
 * - OneHot with an int32 output (tf.oneHot's default): the shader writes f32 values into an i32
 *   output and fails to compile (invalid pipeline, garbage); run as float32, then cast.
 * - Transpose of int32/bool tensors (also inside other kernels: reductions and argMax over a
 *   non-last axis transpose first): TransposeProgram writes the raw i32 input through the f32
 *   setter and fails to compile. Patched in webgpu.ts, on the program (not a kernel here).
 * - AddN of more inputs than the device binds storage buffers (the gradient of a tensor used many
 *   times: ViT's residual stream, an LSTM's state): the pipeline is invalid and the sum garbage.
 *   Summed in chunks of (limit - 1) inputs, then the partial sums.
 *
 * Everything else our methods use (Conv2DBackpropFilter/Input, MaxPoolGrad, BatchMatMul with
 * broadcasting, Einsum, the gradients) is present and matches cpu; tfjs-core's gradients are
 * registered by core as on every backend. Registered after the backend module is imported;
 * idempotent.
 */
import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  registerKernel,
  type TensorInfo,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { registerTrainingGradients } from "./gradients/index.js";

/** The part of tfjs' WebGPUBackend these kernels use. */
interface WebGpuBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: object): boolean;
  readSync(dataId: object): ArrayLike<number>;
  makeTensorInfo(
    shape: number[],
    dtype: "float32" | "int32" | "bool",
    values: Float32Array | Int32Array | Uint8Array,
  ): TensorInfo;
}

type Wrapper = (original: KernelFunc) => KernelFunc;

const WRAPPED = "__selfsupWebGpuWrapped";

const WRAPPERS: Record<string, Wrapper> = {
  OneHot: (original) => (args) => {
    const attrs = args.attrs as unknown as { dtype: string };
    if (attrs.dtype === "float32") return original(args);
    const asFloat = original({ ...args, attrs: { ...args.attrs, dtype: "float32" } }) as TensorInfo;
    const cast = getKernel("Cast", "webgpu");
    if (cast == null) throw new Error("webgpu: no Cast kernel to finish OneHot");
    const out = cast.kernelFunc({
      inputs: { x: asFloat },
      backend: args.backend,
      attrs: { dtype: attrs.dtype },
    });
    (args.backend as unknown as WebGpuBackendLike).disposeData(asFloat.dataId);
    return out;
  },
  AddN: (original) => (args) => {
    const backend = args.backend as unknown as WebGpuBackendLike;
    const max = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
    let tensors = args.inputs as unknown as TensorInfo[];
    if (tensors.length <= max) return original(args);
    const made: TensorInfo[] = [];
    while (tensors.length > max) {
      const partial: TensorInfo[] = [];
      for (let i = 0; i < tensors.length; i += max) {
        const chunk = tensors.slice(i, i + max);
        const sum =
          chunk.length === 1 ? chunk[0]! : (original({ ...args, inputs: chunk as never }) as TensorInfo);
        if (chunk.length > 1) made.push(sum);
        partial.push(sum);
      }
      tensors = partial;
    }
    const out = original({ ...args, inputs: tensors as never }) as TensorInfo;
    for (const t of made) backend.disposeData(t.dataId);
    return out;
  },
  LinSpace: (original) => (args) => {
    const { start, num } = args.attrs as unknown as { start: number; num: number };
    if (num !== 1) return original(args);
    return (args.backend as unknown as WebGpuBackendLike).makeTensorInfo(
      [1],
      "float32",
      Float32Array.of(start),
    );
  },
  UnsortedSegmentSum: (original) => (args) => {
    const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
    if (x.dtype !== "int32") return original(args);
    const { numSegments } = args.attrs as unknown as { numSegments: number };
    const backend = args.backend as unknown as WebGpuBackendLike;
    const xs = backend.readSync(x.dataId);
    const ids = backend.readSync(segmentIds.dataId);
    const inner = x.shape.slice(1).reduce((a, b) => a * b, 1);
    const out = new Int32Array(numSegments * inner);
    for (let i = 0; i < ids.length; i++) {
      const s = ids[i] as number;
      if (s < 0 || s >= numSegments) continue;
      for (let j = 0; j < inner; j++) out[s * inner + j] += xs[i * inner + j] as number;
    }
    return backend.makeTensorInfo([numSegments, ...x.shape.slice(1)], "int32", out);
  },
};

let registered: string[] | undefined;

/** Registers selfsup's webgpu fixes and tfjs-core's gradients; returns the kernels' names. */
export function registerWebGpuKernels(): string[] {
  registerTrainingGradients();
  if (registered !== undefined) return [...registered];
  const names: string[] = [];
  for (const [name, wrap] of Object.entries(WRAPPERS)) {
    const original = getKernel(name, "webgpu");
    if (original == null || WRAPPED in original.kernelFunc) continue;
    const kernelFunc = wrap(original.kernelFunc);
    Object.defineProperty(kernelFunc, WRAPPED, { value: true });
    unregisterKernel(name, "webgpu");
    const config: KernelConfig = { ...original, kernelFunc };
    registerKernel(config);
    names.push(name);
  }
  registered = names;
  return [...names];
}
