import { execFile } from "node:child_process";
import { mkdir, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { methodNameFor, pluginNew } from "../src/commands/plugin-new.js";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
// Inside the workspace, so the scaffold resolves @selfsup/core, zod, typescript and vitest from the
// ancestors' node_modules, as it would from a project's after `npm install`.
const root = path.join(import.meta.dirname, "..", ".scaffold-test", `t-${process.pid}`);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("selfsup plugin new", () => {
  it("writes a plugin whose output builds with tsc and passes its own conformance tests", async () => {
    await mkdir(root, { recursive: true });
    const dir = await pluginNew("selfsup-plugin-align", { dir: path.join(root, "align") });
    const pkg = JSON.parse(await readFile(path.join(dir, "package.json"), "utf8"));
    expect(pkg.selfsup.plugin).toBe("./dist/plugin.js");
    expect(pkg.peerDependencies["@selfsup/core"]).toMatch(/^\^\d+\.\d+\.\d+$/);

    const tsc = path.join(path.dirname(require.resolve("typescript/package.json")), "bin", "tsc");
    await run(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.build.json")], { cwd: dir });
    const plugin = (await import(path.join(dir, "dist", "plugin.js"))).default;
    expect(plugin.methods.map((m: { name: string }) => m.name)).toEqual(["align"]);

    const vitest = path.join(path.dirname(require.resolve("vitest/package.json")), "vitest.mjs");
    const { stdout } = await run(process.execPath, [vitest, "run", "--root", dir], {
      cwd: dir,
      env: { ...process.env, FORCE_COLOR: "0" },
      maxBuffer: 1 << 24,
    });
    expect(stdout).toMatch(/6 passed/);
  }, 240_000);

  it("refuses a bad name and an existing directory, and derives the method name", async () => {
    await expect(pluginNew("Bad Name")).rejects.toThrow(/not a valid npm package name/);
    await mkdir(path.join(root, "exists"), { recursive: true });
    await expect(pluginNew("selfsup-plugin-x", { dir: path.join(root, "exists") })).rejects.toThrow(
      /already exists/,
    );
    expect(methodNameFor("@me/selfsup-plugin-swav")).toBe("swav");
    expect(methodNameFor("my-thing")).toBe("my-thing");
  });
});
