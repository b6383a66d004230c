/**
 * The one way to make a MethodBuildContext: the runner, the benches, the conformance kit and tests
 * all build methods through `methodBuildContext`, so a method sees the same context everywhere.
 */
import type { FeatureModule } from "../nn/module.js";
import type { Registry } from "../plugin/registry.js";
import type { InputSpec, MethodBuildContext } from "../plugin/types.js";
import type { Rng } from "../rng.js";

/** A backbone by registry name and options, or a function that builds one (test fixtures). */
export type BackboneChoice =
  | { name: string; options?: Record<string, unknown> }
  | ((input: InputSpec, rng: Rng) => FeatureModule);

export interface MethodBuildContextOptions {
  /** Where backbones and heads are looked up by name. */
  registry: Registry;
  input: InputSpec;
  /** Seeds every weight initialisation, in build order. */
  rng: Rng;
  /** The run's backbone: what `ctx.buildBackbone()` with no name builds. */
  backbone: BackboneChoice;
  /** Builds heads instead of the registry (test fixtures). */
  buildHead?: (name: string, options: Record<string, unknown>, inputDim: number, rng: Rng) => FeatureModule;
}

export function methodBuildContext(opts: MethodBuildContextOptions): MethodBuildContext {
  const { registry, input, rng, backbone } = opts;
  const named = (name: string, options: Record<string, unknown>, on: InputSpec): FeatureModule =>
    registry.create("backbone", name, options, on, rng);
  return {
    input,
    rng,
    buildBackbone(name, options, inputOverride) {
      const on = inputOverride ?? input;
      if (name !== undefined) return named(name, options ?? {}, on);
      if (typeof backbone === "function") return backbone(on, rng);
      return named(backbone.name, options ?? backbone.options ?? {}, on);
    },
    buildHead(name, options, inputDim) {
      if (opts.buildHead) return opts.buildHead(name, options, inputDim, rng);
      return registry.create("head", name, options, inputDim, rng);
    },
    ...(typeof backbone === "function"
      ? {}
      : { backboneChoice: { name: backbone.name, options: backbone.options ?? {} } }),
  };
}
