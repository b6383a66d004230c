import { createRegistry, type FeatureModule, type InputSpec, type Rng } from "@selfsup/core";

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
