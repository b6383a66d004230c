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

// Identity helpers that infer each contribution's option type from its zod schema.
export const defineBackbone = <S extends z.ZodType>(spec: BackboneSpec<S>): BackboneSpec =>
  spec as unknown as BackboneSpec;
export const defineHead = <S extends z.ZodType>(spec: HeadSpec<S>): HeadSpec => spec as unknown as HeadSpec;
export const defineAugmentation = <S extends z.ZodType>(spec: AugmentationSpec<S>): AugmentationSpec =>
  spec as unknown as AugmentationSpec;
export const defineLoss = <S extends z.ZodType>(spec: LossSpec<S>): LossSpec => spec as unknown as LossSpec;
export const defineMethod = <S extends z.ZodType>(spec: MethodSpec<S>): MethodSpec =>
  spec as unknown as MethodSpec;
export const defineDataset = <S extends z.ZodType>(spec: DatasetSpec<S>): DatasetSpec =>
  spec as unknown as DatasetSpec;
export const defineEvaluator = <S extends z.ZodType>(spec: EvaluatorSpec<S>): EvaluatorSpec =>
  spec as unknown as EvaluatorSpec;
