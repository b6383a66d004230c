/**
 * Builds the run-time registry: the core's built-ins plus every installed plugin, discovered
 * from the user's project (cwd) and from the runner's own installation (where our method
 * packages are dependencies), plus plugin modules named in SELFSUP_PLUGINS (comma-separated file
 * paths or package names: a local plugin that is not an installed package). A broken plugin is
 * reported, never fatal.
 */
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRegistry, loadPlugins, type PluginFailure, type Registry } from "@selfsup/core";

export interface LoadedRegistry {
  registry: Registry;
  failures: PluginFailure[];
}

const runnerRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export async function loadRegistry(projectRoot = process.cwd()): Promise<LoadedRegistry> {
  const registry = createRegistry();
  const failures: PluginFailure[] = [];
  const seen = new Set<string>();
  for (const root of [projectRoot, runnerRoot]) {
    const r = await loadPlugins(registry, root);
    for (const f of r.failures) {
      if (seen.has(f.dir)) continue;
      seen.add(f.dir);
      failures.push(f);
    }
  }
  for (const entry of extraPluginEntries()) {
    try {
      const spec =
        entry.startsWith(".") || path.isAbsolute(entry)
          ? pathToFileURL(path.resolve(projectRoot, entry)).href
          : entry;
      const mod = (await import(spec)) as { default?: unknown; plugin?: unknown };
      const plugin = (mod.default ?? mod.plugin) as Parameters<Registry["register"]>[0];
      // Already discovered as an installed package: the same plugin, not a clash.
      if (plugin && registry.listPlugins().some((p) => p.name === plugin.name)) continue;
      registry.register(plugin);
    } catch (err) {
      failures.push({
        packageName: entry,
        dir: path.resolve(projectRoot, entry),
        error: (err as Error).message,
      });
    }
  }
  return { registry, failures };
}

function extraPluginEntries(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.SELFSUP_PLUGINS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
