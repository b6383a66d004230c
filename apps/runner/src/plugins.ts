/**
 * The run-time registry: core's one plugin loader (`loadRegistry`: built-ins, installed plugins,
 * SELFSUP_PLUGINS) searched from the user's project (cwd) and from the runner's own installation
 * (where a bundle such as the workspace's method packages may be installed next to it).
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadRegistry as loadCoreRegistry, type PluginFailure, type Registry } from "@selfsup/core";

export interface LoadedRegistry {
  registry: Registry;
  failures: PluginFailure[];
}

const runnerRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Roots searched for installed plugins: the project, SELFSUP_PLUGIN_ROOT (set by the `selfsup`
 * meta package to its own directory, so its method packages are found under any install layout),
 * and the runner's installation.
 */
export function pluginRoots(projectRoot = process.cwd(), env: NodeJS.ProcessEnv = process.env): string[] {
  const roots = [projectRoot];
  if (env.SELFSUP_PLUGIN_ROOT) roots.push(path.resolve(projectRoot, env.SELFSUP_PLUGIN_ROOT));
  roots.push(runnerRoot);
  return [...new Set(roots)];
}

export function loadRegistry(projectRoot = process.cwd()): Promise<LoadedRegistry> {
  return loadCoreRegistry({ roots: pluginRoots(projectRoot), cwd: projectRoot });
}
