/**
 * The methods catalogue: the same registry the runner trains with (@selfsup/core's built-ins +
 * discovered plugins), with each contribution's zod options turned into JSON Schema by
 * `z.toJSONSchema`. Loading imports every plugin (and TensorFlow.js), so it happens on the first
 * catalogue request, not at start-up, and the result is kept for the life of the process
 * (installing a plugin means restarting, as for the runner).
 *
 * Plugins are looked for from the working directory, SELFSUP_PLUGIN_ROOT when set, the installed
 * @selfsup/runner, and the modules named in SELFSUP_PLUGINS, by core's `loadRegistry`.
 */
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { z } from "zod";

export interface ContributionInfo {
  kind: string;
  name: string;
  description: string;
  optionsSchema: unknown;
}

export interface MethodInfo {
  name: string;
  family: string;
  description: string;
  plugin: string;
  paper: { title: string; url: string } | null;
  inputs: string[];
  optionsSchema: unknown;
}

export interface Catalogue {
  methods: MethodInfo[];
  plugins: Array<{ name: string; version: string | null; contributions: ContributionInfo[] }>;
  failures: Array<{ packageName: string; error: string }>;
}

/** JSON Schema of a zod schema (input side: what a config may say, defaults shown), or an explanation. */
export function optionsToJsonSchema(schema: unknown): unknown {
  try {
    return z.toJSONSchema(schema as z.ZodType, { io: "input", unrepresentable: "any" });
  } catch (err) {
    return { description: `(options schema not representable as JSON Schema: ${(err as Error).message})` };
  }
}

/** Directories whose node_modules (and ancestors') are searched for plugins. */
export function pluginRoots(
  cwd: string = process.cwd(),
  env: Record<string, string | undefined> = process.env,
): string[] {
  const roots = [cwd];
  if (env.SELFSUP_PLUGIN_ROOT) roots.push(path.resolve(/* turbopackIgnore: true */ env.SELFSUP_PLUGIN_ROOT));
  let dir = path.resolve(/* turbopackIgnore: true */ cwd);
  for (;;) {
    const runner = path.join(/* turbopackIgnore: true */ dir, "node_modules", "@selfsup", "runner");
    if (existsSync(runner)) {
      try {
        roots.push(realpathSync(runner));
      } catch {}
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return [...new Set(roots)];
}

type CoreModule = typeof import("@selfsup/core");

async function load(): Promise<Catalogue> {
  const specifier = "@selfsup/core";
  const core = (await import(/* webpackIgnore: true */ /* turbopackIgnore: true */ specifier)) as CoreModule;
  // core's one plugin loader, as the runner uses it (built-ins, installed plugins, SELFSUP_PLUGINS)
  const loaded = await core.loadRegistry({ roots: pluginRoots() });
  const registry = loaded.registry;
  const failures = loaded.failures.map((f) => ({ packageName: f.packageName, error: f.error }));
  const methods: MethodInfo[] = registry.list("method").map((entry) => ({
    name: entry.spec.name,
    family: entry.spec.family,
    description: entry.spec.description,
    plugin: entry.plugin,
    paper: entry.spec.paper ?? null,
    inputs: [...entry.spec.inputs],
    optionsSchema: optionsToJsonSchema(entry.spec.options),
  }));
  const plugins = registry
    .listPlugins()
    .map((plugin) => {
      const contributions: ContributionInfo[] = [];
      for (const kind of core.CONTRIBUTION_KINDS) {
        for (const entry of registry.list(kind)) {
          if (entry.plugin !== plugin.name) continue;
          contributions.push({
            kind,
            name: entry.spec.name,
            description: entry.spec.description,
            optionsSchema: optionsToJsonSchema(entry.spec.options),
          });
        }
      }
      return { name: plugin.name, version: plugin.version ?? null, contributions };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
  return { methods, plugins, failures };
}

const KEY = Symbol.for("selfsup.dashboard.catalogue");
const g = globalThis as typeof globalThis & { [KEY]?: Promise<Catalogue> };

export function getCatalogue(): Promise<Catalogue> {
  if (!g[KEY]) {
    g[KEY] = load();
    g[KEY].catch(() => {
      g[KEY] = undefined;
    });
  }
  return g[KEY];
}
