import type { z } from "zod";
import {
  API_VERSION,
  type AugmentationSpec,
  type BackboneSpec,
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
export const defineBackbone = <S extends z.ZodType>(spec: BackboneSpec<S>): BackboneSpec<S> => spec;
export const defineHead = <S extends z.ZodType>(spec: HeadSpec<S>): HeadSpec<S> => spec;
export const defineAugmentation = <S extends z.ZodType>(spec: AugmentationSpec<S>): AugmentationSpec<S> =>
  spec;
export const defineLoss = <S extends z.ZodType>(spec: LossSpec<S>): LossSpec<S> => spec;
/**
 * A method spec whose `create` tells the method its name (`ctx.method`, which `MethodBase` reads,
 * so a method class does not write its name again) and checks that the method it built says the
 * spec's name: a method's name has one source, the spec.
 */
export const defineMethod = <S extends z.ZodType>(spec: MethodSpec<S>): MethodSpec<S> => ({
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
export const defineDataset = <S extends z.ZodType>(spec: DatasetSpec<S>): DatasetSpec<S> => spec;
export const defineEvaluator = <S extends z.ZodType>(spec: EvaluatorSpec<S>): EvaluatorSpec<S> => spec;
