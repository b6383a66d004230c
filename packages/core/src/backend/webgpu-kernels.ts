/**
 * Kernels selfsup adds to tfjs-backend-webgpu 4.22 for training (all checked against the cpu
 * backend by test/backend/op-coverage.test.ts and the gradient tests, which include webgpu when it
 * can be had). Registered after the backend module is imported; idempotent.
 */
import { getKernel, type KernelConfig, registerKernel } from "@tensorflow/tfjs-core";
import { registerTrainingGradients } from "./gradients/index.js";

/** Kernels the webgpu backend lacks: registered unless a newer version brings them. */
const MISSING: KernelConfig[] = [];

let registered: string[] | undefined;

/** Registers selfsup's webgpu kernels and tfjs-core's gradients; returns the kernels' names. */
export function registerWebGpuKernels(): string[] {
  // A tfjs-backend-webgpu loaded from its own prefix may bring a tfjs-core copy whose import
  // registers nothing, but keep selfsup's gradients first in the registry anyway.
  registerTrainingGradients();
  if (registered !== undefined) return [...registered];
  const names: string[] = [];
  for (const config of MISSING) {
    if (getKernel(config.kernelName, "webgpu") != null) continue;
    registerKernel(config);
    names.push(config.kernelName);
  }
  registered = names;
  return [...names];
}
