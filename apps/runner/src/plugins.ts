/**
 * Builds the run-time registry: the core's built-ins plus every installed plugin, discovered
 * from the user's project (cwd) and from the runner's own installation (where our method
 * packages are dependencies). A broken plugin is reported, never fatal.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
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
  return { registry, failures };
}
