import {
  type BackboneChoice,
  type BackendRequest,
  checkpointing,
  constantLr,
  createOptimizer,
  createRegistry,
  type FeatureModule,
  type InputSpec,
  initBackend,
  type Method,
  Minimizer,
  methodBuildContext,
  methodParams,
  Rng,
  registerCoreGradients,
  type StepContext,
  Trainer,
  type ViT,
} from "@selfsup/core";
import { tinyDatasetFor } from "@selfsup/core/testing";
import { beitTokenizerMethod, mimPlugin } from "../src/index.js";

/** cpu by default (exact and dependency-free); SELFSUP_BACKEND=wasm runs the same tests on wasm. */
export async function setupBackend(): Promise<void> {
  await initBackend((process.env.SELFSUP_BACKEND as BackendRequest | undefined) ?? "cpu");
  registerCoreGradients();
}

const registry = createRegistry();
registry.register(mimPlugin);

export const IMAGE16: InputSpec = { kind: "image", height: 16, width: 16, channels: 1 };

/** Builds one of this package's methods with its tinyOptions (plus `options`) on a given backbone. */
export function createMethod<M extends Method = Method>(
  name: string,
  backbone: BackboneChoice,
  options: Record<string, unknown> = {},
  input: InputSpec = IMAGE16,
  seed = 0,
): M {
  const spec = registry.get("method", name);
  return registry.create(
    "method",
    name,
    { ...(spec.tinyOptions as object | undefined), ...options },
    methodBuildContext({ registry, input, rng: new Rng(seed), backbone }),
  ) as M;
}

/** A StepContext whose minimize is core's Minimizer with Adam at `lr`. */
export function stepContext(
  method: Method,
  opts: { lr?: number; seed?: number } = {},
): StepContext & {
  dispose(): void;
} {
  const minimizer = new Minimizer({
    optimizer: createOptimizer({ name: "adam" }),
    params: methodParams(method),
    defaultVars: () => method.trainableVariables(),
    schedule: constantLr(opts.lr ?? 3e-3),
  });
  const ctx = {
    step: 0,
    epoch: 0,
    totalSteps: 1000,
    rng: new Rng(opts.seed ?? 1),
    minimize: (
      lossFn: Parameters<StepContext["minimize"]>[0],
      vars?: Parameters<StepContext["minimize"]>[1],
    ) => {
      const out = minimizer.minimize(lossFn, vars);
      minimizer.step += 1;
      return out;
    },
    dispose: () => {
      minimizer.dispose();
      minimizer.optimizer.dispose();
    },
  };
  return ctx;
}

/** A tiny vit-tiny (width 16, one block, 4x4 patches) in the given mask mode. */
export function tinyViT(maskMode: "remove" | "token", readout: Record<string, unknown> = {}) {
  return (input: InputSpec, rng: Rng): FeatureModule =>
    registry.create(
      "backbone",
      "vit-tiny",
      { patchSize: 4, dim: 16, depth: 1, heads: 2, mlpRatio: 2, maskMode, ...readout },
      input,
      rng,
    );
}

/** A tiny text backbone of core's registry. */
export function tinyText(name: "text-transformer" | "lstm") {
  const options =
    name === "lstm" ? { embedDim: 16, hiddenDim: 16 } : { dim: 16, depth: 1, heads: 2, mlpRatio: 2 };
  return (input: InputSpec, rng: Rng): FeatureModule =>
    registry.create("backbone", name, options, input, rng);
}

/** A tiny convnet (width 4, two stride-2 blocks). */
export function tinyConvnet(input: InputSpec, rng: Rng): FeatureModule {
  return registry.create("backbone", "convnet", { width: 4, strides: [2, 2] }, input, rng);
}

/**
 * Trains `beit-tokenizer` for a few steps on the tiny synthetic images of `input` and checkpoints
 * it under `runDir` (as a run of the runner would): what BEiT's `tokenizer` option then names.
 */
export async function trainTinyTokenizer(
  runDir: string,
  input: InputSpec,
  options: Record<string, unknown> = {},
  steps = 10,
): Promise<number[]> {
  const reg = createRegistry();
  reg.register(mimPlugin);
  const method = reg.create(
    "method",
    "beit-tokenizer",
    { ...beitTokenizerMethod.tinyOptions, ...options },
    methodBuildContext({ registry: reg, input, rng: new Rng(0), backbone: { name: "convnet" } }),
  );
  try {
    const trainer = new Trainer({
      method,
      dataset: tinyDatasetFor(input),
      config: {
        epochs: 100,
        maxSteps: steps,
        batchSize: 16,
        seed: 0,
        optimizer: { name: "adamw", lr: 1e-2 },
      },
      callbacks: [checkpointing({ runDir })],
    });
    return (await trainer.fit()).losses;
  } finally {
    method.dispose();
  }
}

/** Records the shape of every token batch `vit`'s first block is given (what the encoder sees). */
export function recordTokenShapes(vit: ViT): number[][] {
  const seen: number[][] = [];
  const block = vit.blocks[0]!;
  const forward = block.forward.bind(block);
  block.forward = (h, opts) => {
    seen.push([...h.shape]);
    return forward(h, opts);
  };
  return seen;
}
