/**
 * Plugin discovery: finds every installed package whose package.json declares
 * `"selfsup": { "plugin": "./dist/plugin.js" }`, under npm's flat node_modules and pnpm's
 * symlinked one (direct dependencies are links in node_modules; everything else is reachable
 * through node_modules/.pnpm/node_modules). One broken plugin never takes the others down: its
 * failure is returned next to the plugins that loaded.
 */
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRegistry } from "../builtin-plugin.js";
import type { Registry } from "./registry.js";
import type { Plugin } from "./types.js";

export interface FoundPlugin {
  packageName: string;
  version: string;
  dir: string;
  /** Absolute path of the plugin module. */
  module: string;
}

export interface PluginFailure {
  packageName: string;
  dir: string;
  error: string;
  /**
   * Its module did not finish loading within the time limit. Its code may still run later (a
   * top-level await that settles late), so a caller should not carry on as if it were absent.
   */
  timedOut?: boolean;
}

/** Default limit on importing one plugin module (SELFSUP_PLUGIN_TIMEOUT_MS overrides it). */
export const PLUGIN_IMPORT_TIMEOUT_MS = 30_000;

function importTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const v = Number(env.SELFSUP_PLUGIN_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : PLUGIN_IMPORT_TIMEOUT_MS;
}

class PluginTimeoutError extends Error {
  override name = "PluginTimeoutError";
}

/**
 * `import(specifier)` with a time limit. A module whose top-level await never settles would
 * otherwise leave the process with nothing to wait on, and it would exit 0 without a word; the
 * (ref'd) timer keeps it alive until the limit and then fails naming the module.
 */
async function importWithin(specifier: string, what: string, env?: Record<string, string | undefined>) {
  const ms = importTimeoutMs(env);
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new PluginTimeoutError(
            `${what} did not finish loading in ${ms / 1000} s (a top-level await that never settles?); ` +
              "if it is only slow, raise SELFSUP_PLUGIN_TIMEOUT_MS (ms)",
          ),
        ),
      ms,
    );
  });
  try {
    return (await Promise.race([import(specifier), limit])) as { default?: unknown; plugin?: unknown };
  } finally {
    clearTimeout(timer);
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function packageDirsIn(nodeModules: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(nodeModules);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const full = path.join(nodeModules, name);
    if (name.startsWith("@")) {
      let scoped: string[] = [];
      try {
        scoped = await readdir(full);
      } catch {}
      for (const s of scoped) out.push(path.join(full, s));
    } else {
      out.push(full);
    }
  }
  return out;
}

/** node_modules folders searched from `root`: its own and its ancestors', plus pnpm's hidden hoist. */
async function nodeModulesDirs(root: string): Promise<string[]> {
  const dirs: string[] = [];
  let dir = path.resolve(root);
  for (;;) {
    const nm = path.join(dir, "node_modules");
    if (await isDir(nm)) {
      dirs.push(nm);
      const hidden = path.join(nm, ".pnpm", "node_modules");
      if (await isDir(hidden)) dirs.push(hidden);
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return dirs;
}

export async function findPlugins(
  root: string,
): Promise<{ found: FoundPlugin[]; failures: PluginFailure[] }> {
  const found: FoundPlugin[] = [];
  const failures: PluginFailure[] = [];
  const seen = new Set<string>();
  for (const nm of await nodeModulesDirs(root)) {
    for (const candidate of await packageDirsIn(nm)) {
      let real: string;
      try {
        real = await realpath(candidate);
      } catch {
        continue; // dangling link
      }
      if (seen.has(real)) continue;
      seen.add(real);
      let pkg: { name?: string; version?: string; selfsup?: { plugin?: unknown } };
      try {
        pkg = JSON.parse(await readFile(path.join(real, "package.json"), "utf8"));
      } catch {
        continue;
      }
      if (!pkg.selfsup) continue;
      const name = pkg.name ?? path.basename(real);
      if (typeof pkg.selfsup.plugin !== "string") {
        failures.push({
          packageName: name,
          dir: real,
          error: `package.json "selfsup.plugin" must be a path to the plugin module`,
        });
        continue;
      }
      found.push({
        packageName: name,
        version: pkg.version ?? "0.0.0",
        dir: real,
        module: path.resolve(real, pkg.selfsup.plugin),
      });
    }
  }
  found.sort((a, b) => a.packageName.localeCompare(b.packageName));
  return { found, failures };
}

/** Imports one found plugin and checks that its default export is a plugin object. */
export async function importPlugin(found: FoundPlugin): Promise<Plugin> {
  try {
    await stat(found.module);
  } catch {
    throw new Error(`plugin module ${found.module} does not exist (is the package built?)`);
  }
  let mod: { default?: unknown };
  try {
    mod = await importWithin(pathToFileURL(found.module).href, `plugin module ${found.module}`);
  } catch (err) {
    if (err instanceof PluginTimeoutError) throw err;
    throw new Error(`importing ${found.module} failed: ${(err as Error).message}`);
  }
  const plugin = mod.default as Plugin | undefined;
  if (!plugin || typeof plugin !== "object" || typeof plugin.name !== "string") {
    throw new Error(`${found.module} must default-export definePlugin({...})`);
  }
  return plugin;
}

/** Discovers, imports and registers every installed plugin; failures are collected, not thrown. */
export async function loadPlugins(
  registry: Registry,
  root: string,
): Promise<{ loaded: FoundPlugin[]; failures: PluginFailure[] }> {
  const { found, failures } = await findPlugins(root);
  const loaded: FoundPlugin[] = [];
  for (const f of found) {
    if (registry.listPlugins().some((p) => p.name === f.packageName)) {
      loaded.push(f); // already registered (e.g. built-ins)
      continue;
    }
    try {
      registry.register(await importPlugin(f));
      loaded.push(f);
    } catch (err) {
      failures.push({
        packageName: f.packageName,
        dir: f.dir,
        error: (err as Error).message,
        ...(err instanceof PluginTimeoutError ? { timedOut: true } : {}),
      });
    }
  }
  return { loaded, failures };
}

/** Plugin modules named in SELFSUP_PLUGINS: comma-separated file paths or package names. */
export function extraPluginEntries(env: Record<string, string | undefined> = process.env): string[] {
  return (env.SELFSUP_PLUGINS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export interface LoadRegistryOptions {
  /** Directories whose node_modules (and ancestors') are searched, in order (default: cwd). */
  roots?: string[];
  /** Where relative SELFSUP_PLUGINS paths resolve from (default: the first root). */
  cwd?: string;
  /** Environment read for SELFSUP_PLUGINS (default: process.env). */
  env?: Record<string, string | undefined>;
}

/**
 * The one plugin loader (runner, worker, dashboard): core's built-ins, every installed plugin found
 * from `roots`, and the plugin modules named in SELFSUP_PLUGINS (a local plugin that is not an
 * installed package). A broken plugin is reported in `failures`, never fatal.
 */
export async function loadRegistry(
  opts: LoadRegistryOptions = {},
): Promise<{ registry: Registry; failures: PluginFailure[] }> {
  const roots = opts.roots ?? [process.cwd()];
  const cwd = opts.cwd ?? roots[0] ?? process.cwd();
  const registry = createRegistry();
  const failures: PluginFailure[] = [];
  const seen = new Set<string>();
  for (const root of roots) {
    const r = await loadPlugins(registry, root);
    for (const f of r.failures) {
      if (seen.has(f.dir)) continue;
      seen.add(f.dir);
      failures.push(f);
    }
  }
  for (const entry of extraPluginEntries(opts.env)) {
    const local = entry.startsWith(".") || path.isAbsolute(entry);
    try {
      const specifier = local ? pathToFileURL(path.resolve(cwd, entry)).href : entry;
      const mod = await importWithin(specifier, `plugin module ${entry}`, opts.env);
      const plugin = (mod.default ?? mod.plugin) as Plugin | undefined;
      if (!plugin || typeof plugin !== "object" || typeof plugin.name !== "string") {
        throw new Error(`${entry} must default-export definePlugin({...})`);
      }
      // Already discovered as an installed package: the same plugin, not a clash.
      if (registry.listPlugins().some((p) => p.name === plugin.name)) continue;
      registry.register(plugin);
    } catch (err) {
      failures.push({
        packageName: entry,
        dir: local ? path.resolve(cwd, entry) : entry,
        error: `SELFSUP_PLUGINS entry ${entry}: ${(err as Error).message}`,
        ...(err instanceof PluginTimeoutError ? { timedOut: true } : {}),
      });
    }
  }
  return { registry, failures };
}
