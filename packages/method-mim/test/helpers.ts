import {
  checkpointing,
  createRegistry,
  type FeatureModule,
  type InputSpec,
  methodBuildContext,
  Rng,
  Trainer,
} from "@selfsup/core";
import { tinyDatasetFor } from "@selfsup/core/testing";
import { beitTokenizerMethod, mimPlugin } from "../src/index.js";

const registry = createRegistry();

/** A tiny vit-tiny (width 16, one block, 4x4 patches) in the given mask mode. */
export function tinyViT(maskMode: "remove" | "token") {
  return (input: InputSpec, rng: Rng): FeatureModule =>
    registry.create(
      "backbone",
      "vit-tiny",
      { patchSize: 4, dim: 16, depth: 1, heads: 2, mlpRatio: 2, maskMode },
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
