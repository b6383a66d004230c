/**
 * Gradient registration for the workspace's single tfjs-core instance.
 *
 * `@tensorflow/tfjs-core` on its own registers no gradient: `tf.grads`, `tf.variableGrads` and
 * `optimizer.minimize` throw "gradient function not found for <Kernel>" on every backend until
 * something imports `dist/register_all_gradients`, which only bundlers can (see
 * generate-core-gradients.mjs). This registers tfjs-core's own gradient functions, ported to its
 * public API at build time (core-gradients.generated.ts, never committed), so that training works in plain Node as well as under vitest.
 */
import { type GradConfig, getGradient, registerGradient } from "@tensorflow/tfjs-core";
import { CORE_GRAD_CONFIGS } from "./core-gradients.generated.js";
import { registerExtraGradients } from "./extra-gradients.js";

/**
 * Registers every tfjs-core gradient that is not registered yet (so a gradient registered earlier,
 * e.g. by `@tensorflow/tfjs` or `@tensorflow/tfjs-node`, is kept), then selfsup's fixes and
 * additions (extra-gradients.ts: BatchMatMul with broadcasting, Einsum, comparisons), which every
 * caller wants too. Idempotent: returns the kernel names it registered by this call, empty on
 * later calls.
 */
export function registerCoreGradients(): string[] {
  const added: string[] = [];
  for (const config of CORE_GRAD_CONFIGS as GradConfig[]) {
    if (getGradient(config.kernelName) != null) continue;
    registerGradient(config);
    added.push(config.kernelName);
  }
  return [...added, ...registerExtraGradients()];
}

/** The same as registerCoreGradients: every gradient selfsup training needs. */
export const registerTrainingGradients: () => string[] = registerCoreGradients;
