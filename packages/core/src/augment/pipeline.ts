/**
 * Augmentation pipelines: a list of `{ name, options }` steps (as written in a config file),
 * validated against the registered augmentations, applied in order with one rng. `makeViews` draws
 * n independent views of a batch, the input of every multi-view SSL method.
 */
import type { z } from "zod";
import type { Augmentation, AugmentationConfig, AugmentationSpec } from "../plugin/types.js";
import type { Rng } from "../rng.js";
import { tf } from "../tf.js";

/** Where pipeline step names are looked up: a registry, a list of specs, or a function. */
export type AugmentationLookup =
  | { get(kind: "augmentation", name: string): AugmentationSpec }
  | readonly AugmentationSpec[]
  | ((name: string) => AugmentationSpec | undefined);

export class AugmentationConfigError extends Error {
  override name = "AugmentationConfigError";
}

export interface Pipeline extends Augmentation {
  /** The validated steps, with every option's default filled in. */
  readonly steps: ReadonlyArray<{ name: string; options: Record<string, unknown> }>;
  readonly ops: readonly Augmentation[];
  /** Applies every step in order; the input is not disposed, intermediates are. */
  apply(x: tf.Tensor, rng: Rng): tf.Tensor;
}

function resolve(lookup: AugmentationLookup, name: string): AugmentationSpec | undefined {
  if (typeof lookup === "function") return lookup(name);
  if (Array.isArray(lookup)) return (lookup as readonly AugmentationSpec[]).find((s) => s.name === name);
  try {
    return (lookup as { get(kind: "augmentation", name: string): AugmentationSpec }).get(
      "augmentation",
      name,
    );
  } catch {
    return undefined;
  }
}

function knownNames(lookup: AugmentationLookup): string | undefined {
  if (Array.isArray(lookup)) return (lookup as readonly AugmentationSpec[]).map((s) => s.name).join(", ");
  const withList = lookup as { list?: (kind: "augmentation") => Array<{ spec: { name: string } }> };
  if (typeof withList.list === "function")
    return withList
      .list("augmentation")
      .map((e) => e.spec.name)
      .join(", ");
  return undefined;
}

function formatIssues(prefix: string, error: z.ZodError, input: unknown): string[] {
  return error.issues.map((issue) => {
    const path = [
      prefix,
      ...issue.path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)),
    ].join("");
    let v: unknown = input;
    for (const key of issue.path)
      v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[key] : undefined;
    return `${path}: ${issue.message}${v !== undefined ? ` (got ${JSON.stringify(v)})` : ""}`;
  });
}

/**
 * Validates `configs` and builds the pipeline. Every problem is reported at once, each line naming
 * the step and field, e.g. `augmentations[2].options.scale: the lower bound must not exceed ...`.
 */
export function buildPipeline(lookup: AugmentationLookup, configs: readonly AugmentationConfig[]): Pipeline {
  if (!Array.isArray(configs)) {
    throw new AugmentationConfigError(
      `augmentations: expected a list of { name, options } steps, got ${JSON.stringify(configs)}`,
    );
  }
  const problems: string[] = [];
  const ops: Augmentation[] = [];
  const steps: Array<{ name: string; options: Record<string, unknown> }> = [];
  configs.forEach((config, i) => {
    const where = `augmentations[${i}]`;
    if (config === null || typeof config !== "object" || typeof config.name !== "string") {
      problems.push(`${where}: expected { name: string, options?: object }, got ${JSON.stringify(config)}`);
      return;
    }
    const spec = resolve(lookup, config.name);
    if (!spec) {
      const names = knownNames(lookup);
      problems.push(
        `${where}.name: unknown augmentation "${config.name}"${names ? `; available: ${names}` : ""}`,
      );
      return;
    }
    const raw = config.options ?? {};
    const parsed = spec.options.safeParse(raw);
    if (!parsed.success) {
      problems.push(...formatIssues(`${where}.options`, parsed.error, raw));
      return;
    }
    steps.push({ name: spec.name, options: parsed.data as Record<string, unknown> });
    ops.push(spec.create(parsed.data));
  });
  if (problems.length > 0) {
    throw new AugmentationConfigError(`invalid augmentation pipeline:\n  ${problems.join("\n  ")}`);
  }
  return {
    name: "pipeline",
    steps,
    ops,
    apply(x, rng) {
      if (ops.length === 0) return tf.clone(x);
      let y = x;
      try {
        for (const op of ops) {
          const next = op.apply(y, rng);
          if (y !== x && next !== y) y.dispose();
          y = next;
        }
      } catch (err) {
        if (y !== x) y.dispose();
        throw err;
      }
      return y === x ? tf.clone(x) : y;
    },
  };
}

/**
 * n views of the batch x, each through the whole pipeline with the rng's stream advancing between
 * them, so the views are independent draws and the same rng state gives the same views.
 */
export function makeViews(pipeline: Augmentation, x: tf.Tensor, n: number, rng: Rng): tf.Tensor[] {
  const views: tf.Tensor[] = [];
  try {
    for (let i = 0; i < n; i++) views.push(pipeline.apply(x, rng));
  } catch (err) {
    for (const v of views) v.dispose();
    throw err;
  }
  return views;
}
