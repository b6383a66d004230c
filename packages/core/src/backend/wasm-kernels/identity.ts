/**
 * Identity for the wasm backend without a copy. tfjs-backend-wasm 4.22's Identity allocates a new
 * buffer and copies the whole tensor into it; tfjs calls it for every `tf.clone`, for every tensor
 * a `tf.customGrad` op saves for its backward pass (BatchNorm saves its activations) and for
 * gradients handed through unchanged: ~130 full-size copies per convnet training step.
 *
 * Tensor data is immutable in tfjs (a Variable's `assign` swaps its dataId, it never writes into
 * the old one), so the output can share the input's data with one more reference, as the cpu
 * backend's Identity and wasm's own Reshape do.
 */
import {
  Identity,
  type IdentityInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import type { BackendWasm } from "./kernel-utils.js";

export function identityWasm(args: { inputs: IdentityInputs; backend: BackendWasm }): TensorInfo {
  const x = args.inputs.x as TensorInfo;
  args.backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
}

export const identityConfig: KernelConfig = {
  kernelName: Identity,
  backendName: "wasm",
  kernelFunc: identityWasm as unknown as KernelFunc,
};
