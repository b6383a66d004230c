import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPlugins, loadPlugins, Registry } from "../../src/index.js";

const require = createRequire(import.meta.url);

/** Writes a package with a plugin module into `dir`. */
async function writePackage(
  dir: string,
  name: string,
  pluginSource: string | null,
  pluginField = "./plugin.js",
) {
  await mkdir(dir, { recursive: true });
  const pkg: Record<string, unknown> = { name, version: "1.0.0", type: "module" };
  if (pluginSource !== undefined) pkg.selfsup = { plugin: pluginField };
  await writeFile(path.join(dir, "package.json"), JSON.stringify(pkg));
  if (pluginSource !== null) await writeFile(path.join(dir, "plugin.js"), pluginSource);
}

const pluginModule = (pluginName: string, lossName: string, apiVersion = 1) => `
import { z } from "zod";
export default {
  name: ${JSON.stringify(pluginName)},
  apiVersion: ${apiVersion},
  losses: [{ name: ${JSON.stringify(lossName)}, description: "test loss", options: z.object({}), create: () => () => 0 }],
};
`;

describe("plugin discovery", () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "selfsup-discover-"));
    const nm = path.join(root, "node_modules");
    await mkdir(nm, { recursive: true });
    // zod for the fixture plugins: the real one, linked
    const zodDir = await realpath(path.dirname(require.resolve("zod/package.json")));
    await symlink(zodDir, path.join(nm, "zod"), "dir");

    // npm's flat layout
    await writePackage(path.join(nm, "flat-plugin"), "flat-plugin", pluginModule("flat-plugin", "flat-loss"));
    await writePackage(
      path.join(nm, "@acme", "scoped-plugin"),
      "@acme/scoped-plugin",
      pluginModule("@acme/scoped-plugin", "scoped-loss"),
    );
    // pnpm's layout: a direct dependency linked from .pnpm, and a transitive one only in .pnpm/node_modules
    const store = path.join(nm, ".pnpm", "linked-plugin@1.0.0", "node_modules", "linked-plugin");
    await writePackage(store, "linked-plugin", pluginModule("linked-plugin", "linked-loss"));
    await symlink(store, path.join(nm, "linked-plugin"), "dir");
    const hoisted = path.join(nm, ".pnpm", "node_modules", "hidden-plugin");
    await writePackage(hoisted, "hidden-plugin", pluginModule("hidden-plugin", "hidden-loss"));
    await symlink(zodDir, path.join(nm, ".pnpm", "node_modules", "zod"), "dir");
    // broken ones
    await writePackage(path.join(nm, "missing-module"), "missing-module", null);
    await writePackage(path.join(nm, "throws-plugin"), "throws-plugin", `throw new Error("boom at import");`);
    await writePackage(
      path.join(nm, "old-api-plugin"),
      "old-api-plugin",
      pluginModule("old-api-plugin", "old-loss", 99),
    );
    await writePackage(path.join(nm, "dup-plugin"), "dup-plugin", pluginModule("dup-plugin", "flat-loss"));
    // not a plugin at all
    await mkdir(path.join(nm, "plain"), { recursive: true });
    await writeFile(path.join(nm, "plain", "package.json"), JSON.stringify({ name: "plain" }));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("finds plugins under npm's flat and pnpm's linked layouts", async () => {
    const { found } = await findPlugins(root);
    const names = found.map((f) => f.packageName);
    expect(names).toEqual(
      expect.arrayContaining(["flat-plugin", "@acme/scoped-plugin", "linked-plugin", "hidden-plugin"]),
    );
    expect(names).not.toContain("plain");
    // the linked package is found once, through its real path
    expect(names.filter((n) => n === "linked-plugin")).toHaveLength(1);
  });

  it("loads the good plugins and reports each broken one clearly without failing the others", async () => {
    const registry = new Registry();
    const { loaded, failures } = await loadPlugins(registry, root);
    expect(registry.has("loss", "flat-loss")).toBe(true);
    expect(registry.has("loss", "scoped-loss")).toBe(true);
    expect(registry.has("loss", "linked-loss")).toBe(true);
    expect(registry.has("loss", "hidden-loss")).toBe(true);
    expect(loaded.map((l) => l.packageName)).not.toContain("throws-plugin");
    const byName = Object.fromEntries(failures.map((f) => [f.packageName, f.error]));
    expect(byName["missing-module"]).toMatch(/plugin\.js does not exist/);
    expect(byName["throws-plugin"]).toMatch(/boom at import/);
    expect(byName["old-api-plugin"]).toMatch(/API version 99/);
    // duplicate name: whichever loaded second is refused, naming both plugins
    expect(byName["dup-plugin"] ?? byName["flat-plugin"]).toMatch(
      /clashes with loss "flat-loss".*(flat-plugin|dup-plugin)/,
    );
  });
});
