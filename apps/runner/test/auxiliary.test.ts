/**
 * Composition from the CLI: `--aux rotation:0.5` trains SimCLR and rotation prediction on one
 * backbone (core's composeMethodSpecs); the run stores both losses; refusals name the field.
 */
import path from "node:path";
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import { cliEnv, runCli, tempHome, tinyConfig, writeConfig } from "./helpers.js";

describe("auxiliary tasks", () => {
  it("trains simclr + 0.5 x rotation on one backbone and stores both losses", async () => {
    const home = await tempHome();
    const file = await writeConfig(home, tinyConfig({ extra: "eval: { knn: false }" }));
    const r = await runCli(["train", file, "--aux", "rotation:0.5", "--json"], cliEnv(home));
    expect(r.code, r.stderr).toBe(0);
    const runId = String(r.events.find((e) => e.type === "start")?.runId);
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const run = await store.getRun(runId);
      expect(run?.config).toMatchObject({ auxiliary: [{ name: "rotation", weight: 0.5 }] });
      const keys = await store.metricKeys(runId);
      expect(keys).toEqual(expect.arrayContaining(["loss", "primary.loss", "aux.rotation.loss"]));
    } finally {
      await store.close();
    }
  }, 240_000);

  it("refuses an auxiliary with post-step state, naming the field", async () => {
    const home = await tempHome();
    const file = await writeConfig(home, tinyConfig());
    const r = await runCli(["train", file, "--aux", "byol", "--dry-run"], cliEnv(home));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/auxiliary\.0\.name: method "byol" updates state after its optimizer step/);
  }, 120_000);
});
