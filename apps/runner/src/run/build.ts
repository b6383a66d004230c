/**
 * Building what a run trains from its resolved config: the method (with its backbone and heads,
 * seeded from the run's seed) and the augmentation steps. Shared by
 * `train`/resume, `selfsup eval` and `selfsup augment`.
 */
import {
  type AugmentationConfig,
  composeMethodSpecs,
  defaultPipelineFor,
  type InputSpec,
  type Method,
  methodBuildContext,
  type Registry,
  Rng,
} from "@selfsup/core";
import type { ResolvedRunConfig } from "../config.js";

/** Builds the method with the run's backbone, seeded from the run's seed. */
export function buildMethod(registry: Registry, cfg: ResolvedRunConfig, input: InputSpec): Method {
  const backbone = cfg.backbone;
  if (!backbone) throw new Error("internal: backbone not resolved before building the method");
  const ctx = methodBuildContext({
    registry,
    input,
    rng: new Rng((cfg.training.seed ^ 0x5eed) >>> 0),
    backbone,
  });
  if (cfg.auxiliary.length === 0) return registry.create("method", cfg.method.name, cfg.method.options, ctx);
  // the method plus auxiliary tasks on one shared backbone, one optimizer step (core's composition)
  return composeMethodSpecs(
    registry.get("method", cfg.method.name),
    cfg.method.options,
    cfg.auxiliary.map((a) => ({
      spec: registry.get("method", a.name),
      options: a.options,
      weight: a.weight,
    })),
    ctx,
  );
}

/**
 * The augmentation steps of a run: its config's, else the method's default, else core's default.
 * A random resized crop without a `size` outputs the dataset's input size: the views are cut from
 * the batch as the dataset stores it, which is larger than the input with image-folder's storeSize.
 */
export function augmentationSteps(
  cfg: ResolvedRunConfig,
  method: Method,
  input: InputSpec,
): AugmentationConfig[] {
  const steps = cfg.augmentations ?? method.defaultAugmentation?.(input) ?? defaultPipelineFor(input);
  if (input.kind !== "image") return steps;
  return steps.map((s) =>
    s.name === "random-resized-crop" && s.options?.size === undefined
      ? { ...s, options: { ...s.options, size: [input.height, input.width] } }
      : s,
  );
}
