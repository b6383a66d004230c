/** A method's own pictures (its optional writeArtifacts hook) are stored as run artifacts. */
import path from "node:path";
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import { cliEnv, runCli, tempHome, writeConfig } from "./helpers.js";

describe("method artifacts", () => {
  it("stores the autoencoder's reconstructions.png with the run", async () => {
    const home = await tempHome();
    const file = await writeConfig(
      home,
      [
        "method: { name: autoencoder }",
        "backbone: { name: convnet, options: { width: 4, strides: [2] } }",
        "dataset: { name: synthetic, options: { size: 8, trainSize: 64, testSize: 16 } }",
        "training: { epochs: 1, batchSize: 16 }",
        "eval: { knn: false }",
      ].join("\n"),
    );
    const r = await runCli(["train", file, "--json"], cliEnv(home));
    expect(r.code, r.stderr).toBe(0);
    const runId = String(r.events.find((e) => e.type === "start")?.runId);
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const artifacts = await store.getArtifacts(runId);
      const png = artifacts.find((a) => a.kind === "method" && a.name === "reconstructions.png");
      expect(png?.mime).toBe("image/png");
      expect(png?.size).toBeGreaterThan(100);
    } finally {
      await store.close();
    }
  }, 240_000);
});
