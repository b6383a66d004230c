/**
 * Options that name another run's checkpoint (a spec's `requires`; BEiT's `tokenizer`), resolved by
 * the runner before the method is built (issue 26 item 10): a run name is accepted, a torn newest
 * checkpoint falls back to the previous intact one with a warning (as resume and eval do), the
 * error for a missing one names the option where the user's config holds it.
 */
import { cp, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { initBackend, saveCheckpoint, Trainer, verifyCheckpoint } from "@selfsup/core";
import { createMethod, tinyImageDataset } from "@selfsup/core/testing";
import { openStore, type RunStore } from "@selfsup/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRunConfig, type ResolvedRunConfig, resolveRunConfig } from "../src/config.js";
import { loadRegistry } from "../src/plugins.js";
import { resolveRequiredCheckpoints } from "../src/run/requires.js";
import { cliEnv, runCli, tempHome } from "./helpers.js";

let home: string;
let store: RunStore;
let registry: Awaited<ReturnType<typeof loadRegistry>>["registry"];
let tokRunId: string;
let step2: string;
let step4: string;

function beitConfig(over: Record<string, unknown>): ResolvedRunConfig {
  return resolveRunConfig(
    parseRunConfig({ dataset: { name: "synthetic" }, method: { name: "beit" }, ...over }, "test"),
    registry,
  );
}

beforeAll(async () => {
  await initBackend("cpu");
  registry = (await loadRegistry()).registry;
  home = await tempHome("selfsup-requires-");
  store = await openStore({ dataDir: path.join(home, "db") });
  // A real beit-tokenizer checkpoint (one training step), recorded at steps 2 and 4; step 4 torn.
  const dataset = tinyImageDataset({ size: 8 });
  // The installed plugin's spec (the runner does not depend on @selfsup/method-mim itself).
  const method = createMethod(registry.get("method", "beit-tokenizer"), { input: dataset.input });
  const trainer = new Trainer({ method, dataset, config: { epochs: 1, maxSteps: 1, batchSize: 4 } });
  await trainer.fit();
  const run = await store.createRun({ method: "beit-tokenizer", name: "tok" });
  tokRunId = run.id;
  step2 = path.join(home, "runs", run.id, "checkpoints", "step-00000002");
  step4 = path.join(home, "runs", run.id, "checkpoints", "step-00000004");
  await mkdir(path.dirname(step2), { recursive: true });
  await saveCheckpoint(step2, trainer.checkpointData());
  method.dispose();
  await cp(step2, step4, { recursive: true });
  await writeFile(path.join(step4, "weights.bin"), "torn");
  await store.addCheckpoint({ runId: run.id, kind: "latest", path: step2, step: 2 });
  await store.addCheckpoint({ runId: run.id, kind: "latest", path: step4, step: 4 });
});

afterAll(async () => {
  await store?.close();
});

describe("an option naming another run's checkpoint (spec.requires)", () => {
  for (const how of ["name", "id", "run directory"] as const) {
    it(`by ${how}: the newest intact checkpoint, passing over a torn one with a warning`, async () => {
      const ref = how === "name" ? "tok" : how === "id" ? tokRunId : path.join(home, "runs", tokRunId);
      const warnings: string[] = [];
      const cfg = await resolveRequiredCheckpoints(
        registry,
        beitConfig({ method: { name: "beit", options: { tokenizer: ref } } }),
        { store, warn: (m) => warnings.push(m) },
      );
      expect(cfg.method.options.tokenizer).toBe(step2);
      expect(warnings.join("\n")).toContain(
        `method.options.tokenizer: checkpoint at step 4 (${step4}) skipped`,
      );
      expect(warnings.join("\n")).toContain("using the checkpoint at step 2 instead");
      await verifyCheckpoint(step2);
    });
  }

  it("a checkpoint directory is passed on as it is; a run of another method is refused", async () => {
    const cfg = await resolveRequiredCheckpoints(
      registry,
      beitConfig({ method: { name: "beit", options: { tokenizer: step2 } } }),
      { store, warn: () => {} },
    );
    expect(cfg.method.options.tokenizer).toBe(step2);
    const other = await store.createRun({ method: "simclr", name: "not-a-tokenizer" });
    await expect(
      resolveRequiredCheckpoints(
        registry,
        beitConfig({ method: { name: "beit", options: { tokenizer: "not-a-tokenizer" } } }),
        { store, warn: () => {} },
      ),
    ).rejects.toThrow(`method.options.tokenizer: run ${other.id} trained simclr, not beit-tokenizer`);
  });

  it("BEiT as an auxiliary: a missing tokenizer is named at auxiliary.0.options.tokenizer", async () => {
    const cfg = beitConfig({ method: { name: "mae" }, auxiliary: [{ name: "beit" }] });
    const err = await resolveRequiredCheckpoints(registry, cfg, { store, warn: () => {} }).catch(
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(
      'auxiliary.0.options.tokenizer: method "beit" needs a trained beit-tokenizer checkpoint',
    );
    expect((err as Error).message).toContain("--set auxiliary.0.options.tokenizer=<run>");
    expect((err as Error).message).not.toContain("method.options.tokenizer");
    // The name resolves there as well.
    const named = beitConfig({
      method: { name: "mae" },
      auxiliary: [{ name: "beit", options: { tokenizer: "tok" } }],
    });
    const resolved = await resolveRequiredCheckpoints(registry, named, { store, warn: () => {} });
    expect(resolved.auxiliary[0]?.options.tokenizer).toBe(step2);
  });

  it("selfsup train --aux beit without a tokenizer says where the option goes (exit 2, before any step)", async () => {
    const fresh = await tempHome("selfsup-requires-cli-");
    const r = await runCli(
      [
        "train",
        "--method",
        "mae",
        "--aux",
        "beit",
        "--dataset",
        "synthetic",
        "--dry-run",
        "--set",
        "eval.knn=false",
      ],
      cliEnv(fresh),
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("auxiliary.0.options.tokenizer");
    expect(r.stderr).not.toContain("method.options.tokenizer");
  });
});
