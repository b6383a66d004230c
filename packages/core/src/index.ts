/**
 * @selfsup/core — the plugin API, registry, backends, modules, augmentations, datasets, trainer,
 * checkpoints and evaluation that every selfsup method builds on.
 */

export * from "./augment/index.js";
export { registerCoreGradients } from "./backend/gradients/index.js";
export * from "./backend/init-backend.js";
export * from "./backend/memory-estimate.js";
export * from "./backend/native-build.js";
export * from "./backend/native-dir.js";
export { registerWasmTrainingKernels } from "./backend/wasm-kernels/index.js";
export {
  configureWasmThreads,
  decideWasmThreads,
  probeWasmThreads,
  WASM_THREADS_MIN_SPEEDUP,
  type WasmThreadsDecision,
  type WasmThreadsProbe,
  type WasmThreadsResult,
  wasmThreadsCachePath,
  wasmThreadsMachineKey,
} from "./backend/wasm-threads.js";
export {
  formatAdapter,
  installWebGpu,
  type WebGpuAdapter,
  type WebGpuInstallOptions,
  type WebGpuInstallResult,
  webgpuDir,
  webgpuInstalled,
} from "./backend/webgpu.js";
export * from "./builtin-plugin.js";
export * from "./checkpoint/index.js";
export * from "./data/index.js";
export * from "./eval/index.js";
export * from "./export/index.js";
export * from "./method/index.js";
export * from "./nn/builtins.js";
export * from "./nn/index.js";
export * from "./plugin/define-plugin.js";
export * from "./plugin/discover.js";
export * from "./plugin/registry.js";
export * from "./plugin/types.js";
export * from "./rng.js";
export * from "./tf.js";
export * from "./train/index.js";
