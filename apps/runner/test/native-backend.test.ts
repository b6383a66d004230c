/**
 * The native "tensorflow" backend through the CLI, when `selfsup backend build-native` has built it
 * (.ci/run does when a TensorFlow wheel is on the machine and exports SELFSUP_NATIVE_DIR):
 * the default digits recipe trains (its affine augmentation needs the Transform kernel selfsup adds
 * for tensorflow), and a checkpoint written on one backend resumes on the other.
 */
import { nativeDir, nativePackageDir } from "@selfsup/core";
import { describe, expect, it } from "vitest";
import { cliEnv, runCli, startCli, tempHome, tinyConfig, writeConfig } from "./helpers.js";

const native = nativePackageDir("@tensorflow/tfjs-node") !== undefined;
const NATIVE_ENV = { SELFSUP_NATIVE_DIR: nativeDir() };

describe.skipIf(native)(
  `native backend: skipped, no build in ${nativeDir()} (selfsup backend build-native)`,
  () => {
    it.skip("trains and resumes across backends", () => {});
  },
);

describe.skipIf(!native)("the native tensorflow backend through the CLI", () => {
  it("trains SimCLR on the MNIST digits with the default (affine) augmentation", async () => {
    const home = await tempHome();
    const env = cliEnv(home, { ...NATIVE_ENV, SELFSUP_BACKEND: "tensorflow" });
    const r = await runCli(
      ["train", "--method", "simclr", "--dataset", "mnist", "--limit", "128", "--batch-size", "32", "--json"],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.events.find((e) => e.type === "start")?.backend).toBe("tensorflow");
    const losses = r.events.filter((e) => e.type === "step").map((e) => Number(e.loss));
    expect(losses.length).toBe(4);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    expect(r.events.at(-1)).toMatchObject({ type: "end", status: "finished" });
  }, 120_000);

  for (const [from, to] of [
    ["wasm", "tensorflow"],
    ["tensorflow", "wasm"],
  ] as const) {
    it(`a run checkpointed on ${from} resumes on ${to} and finishes`, async () => {
      const home = await tempHome();
      const file = await writeConfig(home, tinyConfig({ epochs: 3, trainSize: 256 }));
      const child = startCli(
        ["train", file, "--json"],
        cliEnv(home, { ...NATIVE_ENV, SELFSUP_BACKEND: from }),
      );
      const start = await child.waitFor((e) => e.type === "start");
      expect(start.backend).toBe(from);
      await child.waitFor((e) => e.type === "step" && Number(e.step) >= 3);
      child.child.kill("SIGINT");
      expect(await child.exited, child.stderr()).toBe(130);
      const ckpt = child.events.find((e) => e.type === "checkpoint" && e.reason === "interrupt");
      expect(ckpt).toBeDefined();

      const resumed = await runCli(
        ["resume", String(start.runId), "--json"],
        cliEnv(home, { ...NATIVE_ENV, SELFSUP_BACKEND: to }),
      );
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.events.find((e) => e.type === "start")).toMatchObject({
        backend: to,
        resumed: true,
        startStep: ckpt?.step,
      });
      const steps = resumed.events.filter((e) => e.type === "step");
      expect(Number(steps[0]?.step)).toBe(Number(ckpt?.step) + 1);
      for (const s of steps) expect(Number.isFinite(Number(s.loss))).toBe(true);
      expect(resumed.events.at(-1)).toMatchObject({ type: "end", status: "finished", step: 48 });
    }, 120_000);
  }
});
