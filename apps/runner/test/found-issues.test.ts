/**
 * The problems found by probing the built CLI as a new user would (issue 15, "found this turn"),
 * each pinned by a test that failed before its fix: a torn newest checkpoint falls back to the
 * newest intact one and the checkpoints table stays true to disk; `-q` never hides an error; a
 * failure mid-training reports its real step; pre-flight checks refuse what cannot train before a run
 * row exists (also under --dry-run).
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, truncate, writeFile } from "node:fs/promises";
import path from "node:path";
import { grayPng } from "@selfsup/core/testing";
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import { createReporter } from "../src/progress/reporters.js";
import { cliEnv, runCli, startCli, tempHome, writeConfig } from "./helpers.js";

const SMALL = [
  "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
  "backbone: { name: convnet, options: { width: 4, strides: [2] } }",
];

function config(lines: string[]): string {
  return [...SMALL, ...lines].join("\n");
}

describe("a torn newest checkpoint", () => {
  it("resume skips torn checkpoints (truncated, flipped byte), says which and why, and finishes with every step once", async () => {
    const home = await tempHome();
    const env = cliEnv(home);
    // 16 steps per epoch, 2 epochs, a checkpoint every 2 steps, the last 5 kept.
    const file = await writeConfig(
      home,
      config([
        "dataset: { name: synthetic, options: { size: 8, trainSize: 256, testSize: 32 } }",
        "training: { epochs: 2, batchSize: 16 }",
        "checkpoint: { everySteps: 2, keepLast: 5 }",
      ]),
    );
    const child = startCli(["train", file, "--json"], env);
    const start = await child.waitFor((e) => e.type === "start");
    await child.waitFor((e) => e.type === "checkpoint" && Number(e.step) >= 10);
    child.child.kill("SIGINT");
    expect(await child.exited, child.stderr()).toBe(130);
    const runId = String(start.runId);

    let store = await openStore({ dataDir: path.join(home, "db") });
    const before = (await store.listCheckpoints(runId)).filter((c) => c.kind === "latest");
    await store.close();
    // Rows only for what is on disk (pruned ones forgotten), each with its checksum.
    expect(before.length).toBe(5);
    for (const c of before) {
      expect(existsSync(path.join(c.path, "manifest.json")), c.path).toBe(true);
      expect(c.checksum).toMatch(/^[0-9a-f]{64}$/);
    }
    const [newest, second, third] = [...before].sort((a, b) => b.step - a.step);
    if (!newest || !second || !third) throw new Error("expected three checkpoints");
    const weights = path.join(newest.path, "weights.bin");
    const size = (await readFile(weights)).byteLength;
    await truncate(weights, size - 100);
    const state = path.join(second.path, "weights.bin");
    const bytes = await readFile(state);
    bytes[7] = (bytes[7] ?? 0) ^ 0xff;
    await writeFile(state, bytes);

    const resumed = await runCli(["resume", runId, "--json"], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    const warnings = resumed.events
      .filter((e) => e.type === "log" && e.level === "warn")
      .map((e) => e.message);
    expect(warnings).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `checkpoint at step ${newest.step} skipped: .*weights\\.bin has ${size - 100} bytes but manifest\\.json records ${size}.*moved to .*torn-step-`,
        ),
      ),
    );
    expect(warnings).toContainEqual(
      expect.stringMatching(
        new RegExp(`checkpoint at step ${second.step} skipped: checksum mismatch in .*weights\\.bin`),
      ),
    );
    const first = resumed.events.find((e) => e.type === "step");
    expect(Number(first?.step)).toBe(third.step + 1);
    expect(resumed.events.at(-1)).toMatchObject({ type: "end", status: "finished", step: 32 });

    store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const [loss] = await store.readSeries(runId, ["loss"], { maxPoints: 10_000 });
      expect(loss?.points.map((p) => p.x)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
      const after = await store.listCheckpoints(runId);
      for (const c of after) expect(existsSync(path.join(c.path, "manifest.json")), c.path).toBe(true);
      expect(
        after.some((c) => c.path === newest.path && c.step === newest.step && c.checksum === newest.checksum),
      ).toBe(false);
    } finally {
      await store.close();
    }
  });
});

describe("quiet output", () => {
  it("the quiet reporter still prints a failure and warnings, never progress", () => {
    let text = "";
    const stream = {
      write: (s: string) => {
        text += s;
        return true;
      },
    } as unknown as NodeJS.WriteStream;
    const r = createReporter("silent", { stream });
    r.sink({ type: "log", runId: "r", level: "info", message: "resuming" });
    r.sink({ type: "log", runId: "r", level: "warn", message: "preview skipped" });
    r.sink({
      type: "end",
      runId: "r",
      status: "failed",
      step: 3,
      summary: {},
      error: "boom",
      durationSec: 1,
    });
    expect(text).toBe("warning: preview skipped\nrun r failed at step 3 after 1s: boom\n");
  });

  it("`train -q` of a run that fails mid-training exits 1 saying why and at which step", async () => {
    // 64 PNGs; one is cut short after its signature, so it passes the load-time header check and
    // fails when a batch decodes it, some steps into the epoch.
    const home = await tempHome();
    const images = path.join(home, "images");
    await mkdir(images);
    for (let i = 0; i < 64; i++) {
      const png = grayPng(8, i);
      const name = path.join(images, `img-${String(i).padStart(2, "0")}.png`);
      await writeFile(name, i === 50 ? png.subarray(0, 40) : png);
    }
    const file = await writeConfig(
      home,
      config([
        `dataset: { name: image-folder, options: { path: ${JSON.stringify(images)}, size: 8, channels: 1 } }`,
        "training: { epochs: 1, batchSize: 4 }",
        "eval: { knn: false }",
        "augmentations: [{ name: noise }]",
      ]),
    );
    const r = await runCli(["train", file, "-q"], cliEnv(home));
    expect(r.code, r.stderr).toBe(1);
    const m = /run (\S+) failed at step (\d+) after \S+: .*img-50\.png/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const failedAt = Number(m?.[2]);
    expect(failedAt).toBeGreaterThan(0);
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      // The step reported is the one that failed: every step before it stored its metrics.
      expect(await store.lastMetricStep(String(m?.[1]))).toBe(failedAt - 1 === 0 ? null : failedAt - 1);
    } finally {
      await store.close();
    }
  });
});

describe("pre-flight checks (before a run row exists, --dry-run too)", () => {
  const cases: Array<{ what: string; args: string[]; error: RegExp }> = [
    {
      what: "a text backbone on image data",
      args: ["--method", "simclr", "--dataset", "synthetic", "--backbone", "text-transformer"],
      error: /backbone "text-transformer" encodes token sequences, but the dataset gives image/,
    },
    {
      what: "an evaluator that needs a test split on a dataset without one",
      args: ["--method", "simclr", "--dataset", "synthetic", "--set", "dataset.options.testSize=0"],
      error: /eval: evaluator "knn" needs a dataset with a test split; "synthetic" has only a training split/,
    },
    {
      what: "a batch larger than the dataset",
      args: ["--method", "simclr", "--dataset", "synthetic", "--limit", "32", "--batch-size", "512", "-q"],
      error:
        /training\.batchSize: 512 is more than the 32 training samples of dataset "synthetic" \(--limit 32\)/,
    },
    // #29: the multi-crop and support-set methods' bad inputs
    {
      what: "DINO with fewer than 2 global crops",
      args: ["--method", "dino", "--dataset", "synthetic", "--set", "method.options.globalCrops=1"],
      error: /DINO needs at least 2 global crops/,
    },
    {
      what: "DINO local crops larger than the global ones",
      args: [
        "--method",
        "dino",
        "--dataset",
        "synthetic",
        "--set",
        "method.options.localScale=[0.5,0.9]",
        "--set",
        "method.options.globalScale=[0.1,0.3]",
      ],
      error: /local crops must be the smaller ones/,
    },
    {
      what: "an NNCLR support set smaller than the batch",
      args: [
        "--method",
        "nnclr",
        "--dataset",
        "synthetic",
        "--batch-size",
        "32",
        "--set",
        "method.options.supportSetSize=16",
      ],
      error: /nnclr: the support set \(supportSetSize 16\) is smaller than the batch \(32\)/,
    },
    {
      what: "I-JEPA on a backbone without patch tokens",
      args: ["--method", "ijepa", "--dataset", "synthetic", "--backbone", "convnet"],
      error: /ijepa needs a vit-tiny backbone \(it works on patch tokens\), got ConvNet/,
    },
    {
      what: "I-JEPA target blocks that cannot fit the patch grid",
      args: [
        "--method",
        "ijepa",
        "--dataset",
        "synthetic",
        "--backbone",
        "vit-tiny",
        "--set",
        "backbone.options.patchSize=14",
      ],
      error:
        /ijepa: the target and context blocks do not fit vit-tiny's 2x2 patch grid \(patchSize 14 on 28x28\): targetScale 0.15 .* nothing to predict/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.what}, with and without --dry-run, and stores no run`, async () => {
      const home = await tempHome();
      const env = cliEnv(home);
      for (const dry of [true, false]) {
        const r = await runCli(["train", ...c.args, ...(dry ? ["--dry-run"] : [])], env);
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(c.error);
      }
      const runs = await runCli(["runs", "--json"], env);
      expect(JSON.parse(runs.stdout).runs).toEqual([]);
    });
  }
});
