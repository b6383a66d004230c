/**
 * Training kernels for tfjs-backend-wasm 4.22, built on its fast (XNNPACK) kernels: the ones it
 * lacks, and replacements for the ones it has but runs far slower than the forward pass.
 * See ../README-wasm.md for the list, how each is computed, and measured speeds.
 */
import { getKernel, type KernelConfig, registerKernel, unregisterKernel } from "@tensorflow/tfjs-core";
import { registerTrainingGradients } from "../gradients/index.js";
import { adamUpdateConfig } from "./adam-update.js";
import { batchMatMulConfig, setOriginalBatchMatMul } from "./batch-mat-mul.js";
import { COMPARISON_KERNELS, compareBroadcastConfig } from "./compare-broadcast.js";
import { conv2DBackpropFilterConfig } from "./conv2d-backprop-filter.js";
import { conv2DBackpropInputConfig } from "./conv2d-backprop-input.js";
import { depthwiseConv2dNativeBackpropFilterConfig } from "./depthwise-conv2d-backprop-filter.js";
import { depthwiseConv2dNativeBackpropInputConfig } from "./depthwise-conv2d-backprop-input.js";
import { einsumConfig } from "./einsum.js";
import { identityConfig } from "./identity.js";
import { maxPool3DConfig } from "./max-pool-3d.js";
import { maxPool3DGradConfig } from "./max-pool-3d-grad.js";
import { maxPoolGradConfig } from "./max-pool-grad.js";
import { unsortedSegmentSumConfig } from "./unsorted-segment-sum.js";

/** Kernels tfjs-backend-wasm does not have: registered unless a newer version brings them. */
const MISSING: KernelConfig[] = [
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  unsortedSegmentSumConfig,
  einsumConfig,
  adamUpdateConfig,
];

/** Kernels tfjs-backend-wasm has but that are wrong or much slower than they need be: replaced. */
const REPLACED: KernelConfig[] = [
  conv2DBackpropInputConfig,
  batchMatMulConfig,
  maxPoolGradConfig,
  maxPool3DConfig,
  maxPool3DGradConfig,
  identityConfig,
];

// Gradients are backend-independent and plain tfjs-core has none: register them as soon as
// @selfsup/core is loaded (init-backend imports this module), so training also works on the cpu
// backend and before any backend is chosen. Idempotent; keeps gradients registered by others.
registerTrainingGradients();

/** Marks selfsup's wrapping kernels (see batch-mat-mul.ts), so that they never wrap themselves. */
const WRAPPED = "__selfsupWrapped";
Object.defineProperty(batchMatMulConfig.kernelFunc, WRAPPED, { value: true });

let registered: string[] | undefined;

/**
 * Registers selfsup's wasm training kernels, and tfjs-core's gradient functions (which plain
 * `@tensorflow/tfjs-core` never registers; see ../gradients). Call it before training on "wasm";
 * the wasm backend need not be initialised yet. Idempotent: returns the names of the kernels it
 * registered for "wasm" (the same list on every call).
 */
export function registerWasmTrainingKernels(): string[] {
  registerTrainingGradients();
  if (registered !== undefined) return [...registered];
  const names: string[] = [];
  for (const config of MISSING) {
    if (getKernel(config.kernelName, "wasm") != null) continue;
    registerKernel(config);
    names.push(config.kernelName);
  }
  for (const config of REPLACED) {
    const original = getKernel(config.kernelName, "wasm");
    if (config === batchMatMulConfig) {
      if (original == null) continue; // nothing to wrap
      // Another copy of this module may have wrapped it already: wrap the backend's own only.
      if (WRAPPED in original.kernelFunc) continue;
      setOriginalBatchMatMul(original.kernelFunc);
    }
    if (original != null) unregisterKernel(config.kernelName, "wasm");
    // Keep the original's setupFunc: if the backend initialises after this, our kernels may still
    // call into the wasm functions that it binds.
    registerKernel({ ...config, setupFunc: original?.setupFunc });
    names.push(config.kernelName);
  }
  // Comparisons: ours for broadcast operands, the backend's own for equal shapes (it wraps them).
  for (const name of COMPARISON_KERNELS) {
    const original = getKernel(name, "wasm");
    if (original == null || WRAPPED in original.kernelFunc) continue;
    const config = compareBroadcastConfig(name, original.kernelFunc);
    Object.defineProperty(config.kernelFunc, WRAPPED, { value: true });
    unregisterKernel(name, "wasm");
    registerKernel({ ...config, setupFunc: original.setupFunc });
    names.push(name);
  }
  registered = names;
  return [...names];
}
