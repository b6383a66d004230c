/** The core's own contributions, registered like any third-party plugin's. */
import { builtinAugmentations } from "./augment/index.js";
import { builtinDatasets } from "./data/index.js";
import { builtinEvaluators } from "./eval/index.js";
import { builtinBackbones, builtinHeads } from "./nn/builtins.js";
import { definePlugin } from "./plugin/define-plugin.js";
import { Registry } from "./plugin/registry.js";
import type { Plugin } from "./plugin/types.js";

export const CORE_PLUGIN_NAME = "@selfsup/core";

export const corePlugin: Plugin = definePlugin({
  name: CORE_PLUGIN_NAME,
  backbones: builtinBackbones,
  heads: builtinHeads,
  augmentations: builtinAugmentations,
  datasets: builtinDatasets,
  evaluators: builtinEvaluators,
});

/** A registry holding the core's built-ins; add plugins with `register` or `loadPlugins`. */
export function createRegistry(): Registry {
  const registry = new Registry();
  registry.register(corePlugin);
  return registry;
}
