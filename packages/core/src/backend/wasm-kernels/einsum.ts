/**
 * Einsum for the wasm backend (missing in tfjs-backend-wasm 4.22): the cpu backend's algorithm
 * (transpose each operand to a common dimension order, broadcast-multiply, sum the contracted
 * dimensions in the order tfjs' compute path gives), with every step on the wasm Transpose,
 * Reshape, Multiply and Sum kernels. Like on the cpu backend this materialises the broadcast
 * product; write large contractions with matMul, which runs on XNNPACK.
 */
import {
  backend_util,
  Einsum,
  type EinsumAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { type BackendWasm, disposeAll, reshape, runWasmKernel, transpose } from "./kernel-utils.js";

export function einsumWasm(args: {
  inputs: TensorInfo[];
  backend: BackendWasm;
  attrs: EinsumAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const tensors = inputs;
  const { allDims, summedDims, idDims } = backend_util.decodeEinsumEquation(attrs.equation, tensors.length);
  // checkEinsumDimSizes reads only .shape, which TensorInfo has.
  backend_util.checkEinsumDimSizes(
    allDims.length,
    idDims,
    tensors as unknown as Parameters<typeof backend_util.checkEinsumDimSizes>[2],
  );
  const { path, steps } = backend_util.getEinsumComputePath(summedDims, idDims);

  let out: TensorInfo | null = null;
  let numDimsRemaining = allDims.length;
  const owned: TensorInfo[] = [];
  for (let i = 0; i < steps.length; ++i) {
    for (const idTerm of steps[i]) {
      const { permutationIndices: perm, expandDims } = backend_util.getEinsumPermutation(
        numDimsRemaining,
        idDims[idTerm],
      );
      let x: TensorInfo = tensors[idTerm];
      if (!backend_util.isIdentityPermutation(perm)) {
        x = transpose(backend, x, perm);
        owned.push(x);
      }
      const targetShape = x.shape.slice();
      for (const d of expandDims) targetShape.splice(d, 0, 1);
      if (!util.arraysEqual(x.shape, targetShape)) {
        x = reshape(backend, x, targetShape);
        owned.push(x);
      }
      if (out === null) {
        out = x;
      } else {
        out = runWasmKernel(backend, "Multiply", { a: x, b: out });
        owned.push(out);
      }
    }
    if (i < steps.length - 1) {
      if (path[i] >= 0 && out !== null) {
        out = runWasmKernel(
          backend,
          "Sum",
          { x: out },
          { axis: path[i] - (allDims.length - numDimsRemaining), keepDims: false },
        );
        owned.push(out);
      }
      numDimsRemaining--;
    }
  }
  if (out === null) throw new Error(`Einsum: nothing to compute for '${attrs.equation}'`);
  // The result must be a tensor of its own (not one of the inputs, whose data the caller owns).
  const result: TensorInfo = owned.includes(out) ? out : runWasmKernel(backend, "Identity", { x: out });
  disposeAll(backend, ...owned.filter((t) => t !== result));
  return result;
}

export const einsumConfig: KernelConfig = {
  kernelName: Einsum,
  backendName: "wasm",
  kernelFunc: einsumWasm as unknown as KernelFunc,
};
