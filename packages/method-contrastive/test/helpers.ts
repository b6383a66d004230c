import {
  type BackendRequest,
  constantLr,
  createOptimizer,
  createRegistry,
  type InputSpec,
  initBackend,
  type Method,
  type MethodBuildContext,
  Minimizer,
  type Module,
  methodBuildContext,
  methodParams,
  Rng,
  type StepContext,
  tf,
} from "@selfsup/core";
import plugin from "../src/plugin.js";

/** cpu by default (exact and dependency-free); SELFSUP_BACKEND=wasm runs the same tests on wasm. */
export async function setupBackend(): Promise<void> {
  await initBackend((process.env.SELFSUP_BACKEND as BackendRequest | undefined) ?? "cpu");
  // tfjs-core registers no gradient in plain Node; core's Minimizer registers them on construction
  // (core does not export registerCoreGradients itself).
  new Minimizer({
    optimizer: createOptimizer({ name: "sgd" }),
    params: new Map(),
    defaultVars: () => [],
    schedule: constantLr(0),
  });
}

export const registry = createRegistry();
registry.register(plugin);

export const DIGIT_INPUT: InputSpec = { kind: "image", height: 8, width: 8, channels: 1 };

/** A tiny convnet (widths 4, 8): the default backbone of these tests. */
export const TINY_CONVNET = { name: "convnet", options: { width: 4, strides: [2, 2] } };
/** A tiny vit-tiny with mask tokens (2 px patches on 8 px images: a 4x4 grid) for iBOT. */
export const TINY_VIT = {
  name: "vit-tiny",
  options: { patchSize: 2, dim: 8, depth: 1, heads: 2, maskMode: "token" },
};

/** A MethodBuildContext over core's registry with a tiny backbone (default TINY_CONVNET). */
export function buildContext(
  input: InputSpec = DIGIT_INPUT,
  seed = 0,
  backbone: { name: string; options: Record<string, unknown> } = TINY_CONVNET,
): MethodBuildContext {
  return methodBuildContext({ registry, input, rng: new Rng(seed), backbone });
}

/** Builds a method with its spec's tiny options (small projectors: a step takes milliseconds). */
export function createMethod(
  name: string,
  options: Record<string, unknown> = {},
  seed = 0,
  backbone: { name: string; options: Record<string, unknown> } = name === "ibot" ? TINY_VIT : TINY_CONVNET,
): Method {
  const spec = registry.get("method", name);
  return registry.create(
    "method",
    name,
    { ...(spec.tinyOptions as object | undefined), ...options },
    buildContext(DIGIT_INPUT, seed, backbone),
  );
}

/** A StepContext whose minimize is core's Minimizer with plain SGD (update = -lr * grad). */
export function stepContext(
  method: Method,
  opts: { lr?: number; step?: number; totalSteps?: number; seed?: number } = {},
): StepContext & { minimizer: Minimizer } {
  const minimizer = new Minimizer({
    optimizer: createOptimizer({ name: "sgd" }),
    params: methodParams(method),
    defaultVars: () => method.trainableVariables(),
    schedule: constantLr(opts.lr ?? 0.1),
  });
  return {
    step: opts.step ?? 0,
    epoch: 0,
    totalSteps: opts.totalSteps ?? 100,
    rng: new Rng(opts.seed ?? 1),
    minimize: (lossFn, vars) => minimizer.minimize(lossFn, vars),
    minimizer,
  };
}

/** Two random "views" [B, 8, 8, 1]. */
export function randomViews(batch: number, seed: number): [tf.Tensor4D, tf.Tensor4D] {
  return [
    tf.randomUniform([batch, 8, 8, 1], 0, 1, "float32", seed),
    tf.randomUniform([batch, 8, 8, 1], 0, 1, "float32", seed + 1000),
  ];
}

/** Copies of a module's parameter values by name. */
export function snapshot(module: Module): Map<string, Float32Array> {
  return new Map(
    module.namedParameters().map((p) => [p.name, p.variable.dataSync().slice() as Float32Array]),
  );
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}
