/**
 * Defects a probe of the built CLI found (issue 26), each pinned by a test that failed before its
 * fix: a plugin whose import never settles, terminal escapes in run names and tags, the wasm
 * memory probe on images under 8 px, checks that only a training step revealed.
 */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { grayPng } from "@selfsup/core/testing";
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import { printable } from "../src/commands/runs.js";
import { cliEnv, runCli, tempHome, writeConfig } from "./helpers.js";

/** `selfsup train` of a small synthetic SimCLR run under --dry-run, plus `extra` arguments. */
const dryRun = (...extra: string[]) => [
  "train",
  "--method",
  "simclr",
  "--dataset",
  "synthetic",
  "--dry-run",
  "--set",
  "eval.knn=false",
  ...extra,
];

describe("a plugin module whose import never settles (item 2)", () => {
  it("list and train stop after the time limit, name the plugin and exit non-zero", async () => {
    const home = await tempHome();
    const hang = path.join(home, "hang.mjs");
    await writeFile(hang, "await new Promise(() => {});\nexport default {};\n");
    const env = cliEnv(home, { SELFSUP_PLUGINS: hang, SELFSUP_PLUGIN_TIMEOUT_MS: "1500" });
    const list = await runCli(["list"], env);
    expect(list.code, list.stderr + list.stdout).toBe(2);
    expect(list.stdout + list.stderr).toContain(`plugin module ${hang} did not finish loading in 1.5 s`);
    const train = await runCli(dryRun(), env);
    expect(train.code, train.stderr).toBe(2);
    expect(train.stderr).toContain(`plugin module ${hang} did not finish loading in 1.5 s`);
    expect(train.stderr).toContain("SELFSUP_PLUGIN_TIMEOUT_MS");
  });
});

describe("terminal escapes in names and tags (item 6)", () => {
  it("refuses control characters at write, in the CLI and in the store", async () => {
    const home = await tempHome();
    const env = cliEnv(home);
    const r = await runCli(dryRun("--name", "a\u001b[31mred"), env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/name: must not contain control characters/);
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      for (const input of [
        { name: "a\u001b[2Jb" },
        { name: "line\rover" },
        { tags: ["ok", "bad\ntag"] },
        { notes: "bell\u0007" },
      ]) {
        await expect(store.createRun({ method: "simclr", ...input })).rejects.toThrow(/control characters/);
      }
      // A multi-line note stays allowed.
      const run = await store.createRun({ method: "simclr", notes: "first\n\tsecond" });
      await expect(store.addTag(run.id, "x\u009bz")).rejects.toThrow(/control characters/);
      await expect(store.setNote(run.id, "a\u001b]0;title\u0007")).rejects.toThrow(/control characters/);
    } finally {
      await store.close();
    }
  });

  it("escapes what an older store already holds when `selfsup runs` prints it", async () => {
    const home = await tempHome();
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const run = await store.createRun({ method: "simclr", dataset: "mnist" });
      // Written around the store's checks, as a row from before them would be.
      await store.db.query("UPDATE runs SET name = $2, tags = $3 WHERE id = $1", [
        run.id,
        "a\u001b[31mred\rX",
        ["t\u001b]0;x\u0007"],
      ]);
    } finally {
      await store.close();
    }
    const r = await runCli(["runs"], cliEnv(home));
    expect(r.code, r.stderr).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none are printed
    expect(r.stdout).not.toMatch(/[\u001b\r\u0007]/);
    expect(r.stdout).toContain("a\\x1b[31mred\\x0dX");
    expect(r.stdout).toContain("t\\x1b]0;x\\x07");
    expect(printable("\u202eevil")).toBe("\\u202eevil");
  });
});

describe("wasm runs on images under 8 px (item 7)", () => {
  it("the memory probe builds its batch at the run's own size (6 x 6) and the run trains", async () => {
    const home = await tempHome();
    const images = path.join(home, "images");
    await mkdir(images);
    for (let i = 0; i < 16; i++) await writeFile(path.join(images, `img-${i}.png`), grayPng(10, i));
    const file = await writeConfig(
      home,
      [
        "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
        "backbone: { name: convnet, options: { width: 4, strides: [2] } }",
        `dataset: { name: image-folder, options: { path: ${JSON.stringify(images)}, size: 6, channels: 1 } }`,
        "training: { epochs: 1, batchSize: 8 }",
        "eval: { knn: false }",
      ].join("\n"),
    );
    const r = await runCli(["train", file, "-q"], cliEnv(home, { SELFSUP_BACKEND: "wasm" }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Too small|>=8/);
  });
});

describe("checks --dry-run and the pre-flight missed (item 8): one trial step", () => {
  const cases: Array<{ what: string; args: string[]; error: RegExp }> = [
    {
      what: "rotation on non-square images",
      args: ["--method", "rotation", "--dataset", "image-folder", "--set", "dataset.options.size=[20,30]"],
      error: /the first training step \(batch \d\) fails: .*/,
    },
    {
      what: "MAE with maskRatio 0.999 (no visible patch)",
      args: ["--method", "mae", "--dataset", "synthetic", "--set", "method.options.maskRatio=0.999"],
      error: /the first training step \(batch \d\) (fails|gives a loss of)/,
    },
    {
      what: "MAE with maskRatio 0.001 (no masked patch: loss 0)",
      args: ["--method", "mae", "--dataset", "synthetic", "--set", "method.options.maskRatio=0.001"],
      error: /the first training step \(batch \d\) gives a loss of exactly 0: nothing to learn/,
    },
  ];
  for (const c of cases) {
    it(`${c.what}: refused under --dry-run, no run row`, async () => {
      const home = await tempHome();
      const images = path.join(home, "images");
      await mkdir(images);
      for (let i = 0; i < 8; i++) await writeFile(path.join(images, `img-${i}.png`), grayPng(32, i));
      const args = c.args.map((a) => (a === "image-folder" ? "image-folder" : a));
      const extra = args.includes("image-folder") ? ["--set", `dataset.options.path=${images}`] : [];
      const r = await runCli(
        ["train", ...args, ...extra, "--dry-run", "--set", "eval.knn=false", "--batch-size", "4"],
        cliEnv(home),
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(c.error);
      const store = await openStore({ dataDir: path.join(home, "db") });
      try {
        expect(await store.countRuns()).toBe(0);
      } finally {
        await store.close();
      }
    });
  }
});

describe("backend build-native with a file that is not a wheel (item 9)", () => {
  it("fails at once naming the file, before any npm install, and leaves nothing behind", async () => {
    const home = await tempHome();
    const whl = path.join(home, "f.whl");
    await writeFile(whl, "x\n");
    const dir = path.join(home, "native");
    const r = await runCli(["backend", "build-native", "--tensorflow", whl, "--dir", dir], cliEnv(home));
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`--tensorflow ${whl} is not a wheel: a .whl is a zip archive`);
    expect(r.stderr).not.toMatch(/unzip|End-of-central-directory|npm/);
    // Checked before anything was created or installed.
    expect(existsSync(dir)).toBe(false);
  });
});

describe("small ones (item 10)", () => {
  it("a one-sample dataset is refused with the real minimum, not 'a batch of at most 1'", async () => {
    const home = await tempHome();
    const r = await runCli(dryRun("--limit", "1"), cliEnv(home));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(
      'dataset "synthetic" (--limit 1) has 1 training sample; training needs at least 2',
    );
    expect(r.stderr).not.toContain("at most 1");
  });

  it("plugin new refuses npm's reserved names and over-long names before touching the disk", async () => {
    const home = await tempHome();
    const env = cliEnv(home);
    const reserved = await runCli(["plugin", "new", "node_modules", "--dir", path.join(home, "p1")], env);
    expect(reserved.code, reserved.stderr).toBe(2);
    expect(reserved.stderr).toContain('plugin name "node_modules" is reserved by npm');
    const long = await runCli(["plugin", "new", "a".repeat(300)], env);
    expect(long.code, long.stderr).toBe(2);
    expect(long.stderr).toContain("plugin name is 300 characters long; npm allows at most 214");
    expect(long.stderr).not.toContain("ENAMETOOLONG");
    expect(existsSync(path.join(home, "p1"))).toBe(false);
  });
});
