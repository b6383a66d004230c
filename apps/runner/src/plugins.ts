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

export function loadRegistry(projectRoot = process.cwd()): Promise<LoadedRegistry> {
  return loadCoreRegistry({ roots: [projectRoot, runnerRoot], cwd: projectRoot });
}
