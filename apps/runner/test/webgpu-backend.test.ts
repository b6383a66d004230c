/**
 * The webgpu backend through the CLI, when `selfsup backend add webgpu` has installed it (.ci/run
 * does, and exports SELFSUP_WEBGPU_DIR; on a GPU-less machine the adapter is Mesa's llvmpipe):
 * `selfsup list` names the adapter, and SimCLR trains (a tiny convnet on 8x8 synthetic images:
 * llvmpipe is slow and compiles every shader on first use).
 */
import { webgpuDir, webgpuInstalled } from "@selfsup/core";
import { describe, expect, it } from "vitest";
import { cliEnv, runCli, tempHome, tinyConfig, writeConfig } from "./helpers.js";

const installed = webgpuInstalled();
const WEBGPU_ENV = { SELFSUP_WEBGPU_DIR: webgpuDir(), SELFSUP_BACKEND: "webgpu" };

describe.skipIf(installed)(
  `webgpu backend: skipped, not installed in ${webgpuDir()} (selfsup backend add webgpu)`,
  () => {
    it.skip("lists the adapter and trains SimCLR", () => {});
  },
);

describe.skipIf(!installed)("the webgpu backend through the CLI", () => {
  it("selfsup list names the adapter (vendor, architecture, software or hardware)", async () => {
    const home = await tempHome();
    const r = await runCli(["list", "--json"], cliEnv(home, WEBGPU_ENV));
    expect(r.code, r.stderr).toBe(0);
    const backend = (JSON.parse(r.stdout) as { backend: Record<string, unknown> }).backend;
    expect(backend.backend).toBe("webgpu");
    expect(backend.adapter).toMatchObject({
      vendor: expect.any(String),
      architecture: expect.any(String),
      software: expect.any(Boolean),
    });
    const text = await runCli(["list"], cliEnv(home, WEBGPU_ENV));
    expect(text.stdout).toMatch(/chosen {2}webgpu: WebGPU on .*(software|hardware)/);
    expect(text.stdout).toMatch(/webgpu adapter: vendor .*, architecture .*, (software|hardware)/);
  }, 120_000);

  it("trains SimCLR with finite losses and finishes", async () => {
    const home = await tempHome();
    const file = await writeConfig(home, tinyConfig({ trainSize: 32, batchSize: 16 }));
    const r = await runCli(["train", file, "--json"], cliEnv(home, WEBGPU_ENV));
    expect(r.code, r.stderr).toBe(0);
    expect(r.events.find((e) => e.type === "start")?.backend).toBe("webgpu");
    const losses = r.events.filter((e) => e.type === "step").map((e) => Number(e.loss));
    expect(losses.length).toBe(2);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(r.events.at(-1)).toMatchObject({ type: "end", status: "finished" });
  }, 300_000);
});
