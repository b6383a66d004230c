/**
 * The registry: every contribution by kind and unique name (as timm's model registry, with zod
 * options instead of kwargs). `registry.create("method", "simclr", opts, ctx)`-style helpers live
 * with their users; here: register, get, list, and option parsing with errors that name the field.
 */
import type { z } from "zod";
import type { FeatureModule } from "../nn/module.js";
import type { Rng } from "../rng.js";
import {
  API_VERSION,
  type Augmentation,
  type ContributionBase,
  type ContributionByKind,
  type ContributionKind,
  type Dataset,
  type InputSpec,
  type LossFn,
  type Method,
  type MethodBuildContext,
  type Plugin,
  type PluginContributions,
} from "./types.js";

/** Each kind's field in a plugin (its plural: "methods"), the one list of kinds. */
export const KIND_FIELDS: Record<ContributionKind, keyof PluginContributions> = {
  backbone: "backbones",
  head: "heads",
  augmentation: "augmentations",
  loss: "losses",
  method: "methods",
  dataset: "datasets",
  evaluator: "evaluators",
};

export const CONTRIBUTION_KINDS = Object.keys(KIND_FIELDS) as ContributionKind[];

export interface RegisteredContribution<K extends ContributionKind = ContributionKind> {
  kind: K;
  plugin: string;
  spec: ContributionByKind[K];
}

/** What `registry.create` needs besides the options, per kind. */
export interface CreateArgs {
  backbone: [input: InputSpec, rng: Rng];
  head: [inputDim: number, rng: Rng];
  augmentation: [];
  loss: [];
  method: [ctx: MethodBuildContext];
  dataset: [];
}

/** What `registry.create` returns, per kind. */
export interface Created {
  backbone: FeatureModule;
  head: FeatureModule;
  augmentation: Augmentation;
  loss: LossFn;
  method: Method;
  dataset: Promise<Dataset>;
}

export type CreatableKind = keyof CreateArgs;

export class RegistryError extends Error {
  override name = "RegistryError";
}

/** Formats a zod error as "field.path: message (got value)" lines. */
export function formatZodError(error: z.ZodError, where: string, input?: unknown): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join(".") : "(root)";
    let got = "";
    if (input !== undefined) {
      let v: unknown = input;
      for (const key of issue.path)
        v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[key] : undefined;
      if (v !== undefined) got = ` (got ${JSON.stringify(v)})`;
    }
    return `  ${path}: ${issue.message}${got}`;
  });
  return `invalid ${where}:\n${lines.join("\n")}`;
}

export class Registry {
  private readonly entries = new Map<string, RegisteredContribution>();
  private readonly plugins = new Map<string, Plugin>();

  private static key(kind: ContributionKind, name: string): string {
    return `${kind}:${name}`;
  }

  /**
   * Registers every contribution of a plugin, all or nothing: a duplicate name or an API version
   * mismatch throws before anything of the plugin is added.
   */
  register(plugin: Plugin): void {
    if (
      !plugin ||
      typeof plugin !== "object" ||
      typeof plugin.name !== "string" ||
      plugin.name.length === 0
    ) {
      throw new RegistryError("a plugin must be an object with a non-empty `name` (use definePlugin)");
    }
    if (plugin.apiVersion !== API_VERSION) {
      throw new RegistryError(
        `plugin "${plugin.name}" targets selfsup plugin API version ${String(plugin.apiVersion)}, but this @selfsup/core implements version ${API_VERSION}; install a version of the plugin built for API ${API_VERSION}`,
      );
    }
    if (this.plugins.has(plugin.name))
      throw new RegistryError(`plugin "${plugin.name}" is already registered`);
    const pending: RegisteredContribution[] = [];
    const seen = new Set<string>();
    for (const kind of CONTRIBUTION_KINDS) {
      const list = (plugin[KIND_FIELDS[kind]] ?? []) as ContributionBase[];
      for (const spec of list) {
        validateSpec(kind, spec, plugin.name);
        const key = Registry.key(kind, spec.name);
        const existing = this.entries.get(key);
        if (existing) {
          throw new RegistryError(
            `${kind} "${spec.name}" from plugin "${plugin.name}" clashes with ${kind} "${spec.name}" already registered by plugin "${existing.plugin}"; names must be unique`,
          );
        }
        if (seen.has(key))
          throw new RegistryError(`plugin "${plugin.name}" defines ${kind} "${spec.name}" twice`);
        seen.add(key);
        pending.push({ kind, plugin: plugin.name, spec } as RegisteredContribution);
      }
    }
    for (const entry of pending) this.entries.set(Registry.key(entry.kind, entry.spec.name), entry);
    this.plugins.set(plugin.name, plugin);
  }

  has(kind: ContributionKind, name: string): boolean {
    return this.entries.has(Registry.key(kind, name));
  }

  /** The contribution, or an error that lists the installed names of that kind. */
  get<K extends ContributionKind>(kind: K, name: string): ContributionByKind[K] {
    return this.entry(kind, name).spec;
  }

  entry<K extends ContributionKind>(kind: K, name: string): RegisteredContribution<K> {
    const entry = this.entries.get(Registry.key(kind, name));
    if (!entry) {
      const names = this.list(kind).map((e) => e.spec.name);
      throw new RegistryError(
        `unknown ${kind} "${name}"; installed ${kind}s: ${names.length > 0 ? names.join(", ") : "(none)"}`,
      );
    }
    return entry as RegisteredContribution<K>;
  }

  list<K extends ContributionKind>(kind: K): Array<RegisteredContribution<K>> {
    return [...this.entries.values()]
      .filter((e): e is RegisteredContribution<K> => e.kind === kind)
      .sort((a, b) => a.spec.name.localeCompare(b.spec.name));
  }

  listPlugins(): Plugin[] {
    return [...this.plugins.values()];
  }

  /**
   * Builds a contribution by name: its options parsed with its schema (defaults filled in, errors
   * naming the field), then its builder called with the kind's arguments, e.g.
   * `registry.create("backbone", "convnet", { width: 16 }, input, rng)`.
   */
  create<K extends CreatableKind>(kind: K, name: string, raw: unknown, ...args: CreateArgs[K]): Created[K] {
    const opts = this.parseOptions(kind, name, raw);
    const spec: ContributionByKind[CreatableKind] = this.get(kind, name);
    const a = args as unknown[];
    switch (kind) {
      case "backbone":
        return (spec as ContributionByKind["backbone"]).build(
          opts,
          a[0] as InputSpec,
          a[1] as Rng,
        ) as Created[K];
      case "head":
        return (spec as ContributionByKind["head"]).build(opts, a[0] as number, a[1] as Rng) as Created[K];
      case "augmentation":
        return (spec as ContributionByKind["augmentation"]).create(opts) as Created[K];
      case "loss":
        return (spec as ContributionByKind["loss"]).create(opts) as Created[K];
      case "method":
        return (spec as ContributionByKind["method"]).create(opts, a[0] as MethodBuildContext) as Created[K];
      default:
        return (spec as ContributionByKind["dataset"]).load(opts) as Created[K];
    }
  }

  /** Parses options against the contribution's schema (defaults applied); errors name the field. */
  parseOptions<K extends ContributionKind>(
    kind: K,
    name: string,
    raw: unknown = {},
  ): z.output<ContributionByKind[K]["options"]> {
    const spec = this.get(kind, name);
    const result = spec.options.safeParse(raw ?? {});
    if (!result.success)
      throw new RegistryError(formatZodError(result.error, `options for ${kind} "${name}"`, raw));
    return result.data as z.output<ContributionByKind[K]["options"]>;
  }
}

function validateSpec(kind: ContributionKind, spec: ContributionBase, plugin: string): void {
  const where = `${kind} in plugin "${plugin}"`;
  if (!spec || typeof spec.name !== "string" || !/^[a-z0-9][a-z0-9._-]*$/.test(spec.name)) {
    throw new RegistryError(
      `${where}: name must be lower-case letters, digits, '.', '_' or '-' (got ${JSON.stringify(spec?.name)})`,
    );
  }
  if (typeof spec.description !== "string" || spec.description.length === 0) {
    throw new RegistryError(`${kind} "${spec.name}" in plugin "${plugin}" needs a description`);
  }
  // Duck-typed rather than `instanceof`: a plugin may bring its own copy of zod.
  if (!spec.options || typeof (spec.options as { safeParse?: unknown }).safeParse !== "function") {
    throw new RegistryError(`${kind} "${spec.name}" in plugin "${plugin}" needs a zod options schema`);
  }
  const defaults = spec.options.safeParse({});
  if (!defaults.success) {
    throw new RegistryError(
      `${kind} "${spec.name}" in plugin "${plugin}": its options schema must accept {} (give every option a default)\n${formatZodError(defaults.error, "defaults")}`,
    );
  }
}
