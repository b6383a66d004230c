/**
 * Install-only-what-you-need, proven outside the workspace: the publishable packages are packed
 * with `pnpm pack` (workspace:* becomes real versions), a project in a temporary directory installs
 * only @selfsup/core, @selfsup/store (the runner's store), @selfsup/bench, @selfsup/runner and
 * @selfsup/method-contrastive from the tarballs (their third-party dependencies come from the npm
 * registry, as for any user), then the example plugin's tarball. Needs the npm registry; set
 * SELFSUP_SKIP_PACKAGING=1 to skip it on a machine without one.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OFFICIAL_METHOD_PACKAGES } from "../src/official-methods.generated.js";

const run = promisify(execFile);
const workspace = path.resolve(import.meta.dirname, "..", "..", "..");
const PACKAGES = [
  "packages/core",
  "packages/store",
  "packages/bench",
  "apps/runner",
  "packages/method-contrastive",
];
const skip = process.env.SELFSUP_SKIP_PACKAGING === "1";
if (skip) console.warn("packaging test skipped: SELFSUP_SKIP_PACKAGING=1");

let dir = "";
let project = "";

async function pack(pkgDir: string): Promise<string> {
  const { stdout } = await run("pnpm", ["pack", "--pack-destination", dir, "--json"], {
    cwd: path.join(workspace, pkgDir),
  });
  return path.join(dir, path.basename((JSON.parse(stdout) as { filename: string }).filename));
}

async function selfsup(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [path.join(project, "node_modules", ".bin", "selfsup"), ...args], {
      cwd: project,
      env: {
        ...process.env,
        SELFSUP_PLUGINS: "",
        SELFSUP_PLUGIN_ROOT: "",
        DATABASE_URL: "",
        FORCE_COLOR: "0",
      },
      maxBuffer: 1 << 24,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function methods(): Promise<string[]> {
  const r = await selfsup(["list", "--json"]);
  expect(r.code, r.stderr).toBe(0);
  const list = JSON.parse(r.stdout) as { contributions: { method: Array<{ name: string }> } };
  return list.contributions.method.map((m) => m.name).sort();
}

describe.skipIf(skip)("packed packages installed outside the workspace", () => {
  const tarballs: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "selfsup-pack-"));
    for (const p of PACKAGES) tarballs.push(await pack(p));
    project = path.join(dir, "project");
    await mkdir(project);
    await writeFile(
      path.join(project, "package.json"),
      JSON.stringify({ name: "p", private: true, type: "module" }),
    );
    await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs], {
      cwd: project,
      maxBuffer: 1 << 24,
    });
  }, 600_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("lists only the contrastive methods and trains one of them for an epoch on a data subset", async () => {
    expect(await methods()).toEqual(
      [...(OFFICIAL_METHOD_PACKAGES["@selfsup/method-contrastive"] ?? [])].sort(),
    );
    const r = await selfsup([
      "train",
      "--method",
      "simclr",
      "--dataset",
      "mnist",
      "--limit",
      "64",
      "--batch-size",
      "32",
      "-q",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const runs = await selfsup(["runs", "--json"]);
    expect((JSON.parse(runs.stdout) as { runs: unknown[] }).runs[0]).toMatchObject({
      method: "simclr",
      status: "finished",
    });
  }, 300_000);

  it("says which package to install for a method that is not installed", async () => {
    const r = await selfsup(["train", "--method", "mae", "--dataset", "mnist", "--limit", "64"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('method "mae" is in @selfsup/method-mim: install it');
  });

  it("discovers an installed third-party plugin, whose method then trains", async () => {
    const swav = await pack("examples/plugin-swav");
    await run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", swav], {
      cwd: project,
      maxBuffer: 1 << 24,
    });
    expect(await methods()).toContain("swav");
    const r = await selfsup([
      "train",
      "--method",
      "swav",
      "--dataset",
      "mnist",
      "--limit",
      "64",
      "--batch-size",
      "32",
      "-q",
    ]);
    expect(r.code, r.stderr).toBe(0);
  }, 600_000);
});
