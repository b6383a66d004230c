import type { z } from "zod";
import {
  API_VERSION,
  type AugmentationSpec,
  type BackboneSpec,
  type ContributionByKind,
  type ContributionKind,
  type DatasetSpec,
  type EvaluatorSpec,
  type HeadSpec,
  type LossSpec,
  type MethodSpec,
  type Plugin,
  type PluginContributions,
} from "./types.js";

/**
 * Declares a plugin. `apiVersion` defaults to the API this core was built with, so a plugin
 * compiled against an older core carries the old number and the registry can refuse it clearly.
 */
export function definePlugin(
  plugin: PluginContributions & { name: string; version?: string; apiVersion?: number },
): Plugin {
  return { ...plugin, apiVersion: plugin.apiVersion ?? API_VERSION };
}

// Identity helpers that keep each contribution's option type (inferred from its zod schema), so
// `spec.create(opts)` outside this file is typed too. A typed spec is still a `MethodSpec` etc.
// (its methods are declared with method syntax, so option types widen to the plugin's lists).
/** Every spec a define* helper made, by kind: what `specsIn` collects from a module's exports. */
const defined = new WeakMap<object, ContributionKind>();
function mark<T extends object>(kind: ContributionKind, spec: T): T {
  defined.set(spec, kind);
  return spec;
}

export const defineBackbone = <S extends z.ZodType>(spec: BackboneSpec<S>): BackboneSpec<S> =>
  mark("backbone", spec);
export const defineHead = <S extends z.ZodType>(spec: HeadSpec<S>): HeadSpec<S> => mark("head", spec);
export const defineAugmentation = <S extends z.ZodType>(spec: AugmentationSpec<S>): AugmentationSpec<S> =>
  mark("augmentation", spec);
export const defineLoss = <S extends z.ZodType>(spec: LossSpec<S>): LossSpec<S> => mark("loss", spec);
export const defineDataset = <S extends z.ZodType>(spec: DatasetSpec<S>): DatasetSpec<S> =>
  mark("dataset", spec);
export const defineEvaluator = <S extends z.ZodType>(spec: EvaluatorSpec<S>): EvaluatorSpec<S> =>
  mark("evaluator", spec);

/**
 * The specs of one kind that a module exports (made by `define*`), sorted by name. A plugin lists
 * its methods as `specsIn("method", await import("./methods/index.js"))` or a namespace import,
 * so adding a method to a package is one `export * from "./x.js"` line in that index.
 */
export function specsIn<K extends keyof ContributionByKind>(
  kind: K,
  exports: Record<string, unknown>,
): Array<ContributionByKind[K]> {
  const found = Object.values(exports).filter(
    (v): v is ContributionByKind[K] => typeof v === "object" && v !== null && defined.get(v) === kind,
  );
  return [...new Set(found)].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * A method spec whose `create` tells the method its name (`ctx.method`, which `MethodBase` reads,
 * so a method class does not write its name again) and checks that the method it built says the
 * spec's name: a method's name has one source, the spec.
 */
export const defineMethod = <S extends z.ZodType>(spec: MethodSpec<S>): MethodSpec<S> =>
  mark("method", {
    ...spec,
    create(opts, ctx) {
      const method = spec.create(opts, { ...ctx, method: spec.name });
      if (method.name !== spec.name) {
        method.dispose();
        throw new Error(
          `method spec "${spec.name}" built a method named "${method.name}": a method's name is its spec's (MethodBase takes it from ctx.method)`,
        );
      }
      return method;
    },
  });
