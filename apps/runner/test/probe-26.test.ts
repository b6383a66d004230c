/**
 * Defects a probe of the built CLI found (issue 26), each pinned by a test that failed before its
 * fix: a plugin whose import never settles, terminal escapes in run names and tags.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import { printable } from "../src/commands/runs.js";
import { cliEnv, runCli, tempHome } from "./helpers.js";

describe("a plugin module whose import never settles (item 2)", () => {
  it("list and train stop after the time limit, name the plugin and exit non-zero", async () => {
    const home = await tempHome();
    const hang = path.join(home, "hang.mjs");
    await writeFile(hang, "await new Promise(() => {});\nexport default {};\n");
    const env = cliEnv(home, { SELFSUP_PLUGINS: hang, SELFSUP_PLUGIN_TIMEOUT_MS: "1500" });
    const list = await runCli(["list"], env);
    expect(list.code, list.stderr + list.stdout).toBe(2);
    expect(list.stdout + list.stderr).toContain(`plugin module ${hang} did not finish loading in 1.5 s`);
    const train = await runCli(
      ["train", "--method", "simclr", "--dataset", "synthetic", "--dry-run", "--set", "eval.knn=false"],
      env,
    );
    expect(train.code, train.stderr).toBe(2);
    expect(train.stderr).toContain(`plugin module ${hang} did not finish loading in 1.5 s`);
    expect(train.stderr).toContain("SELFSUP_PLUGIN_TIMEOUT_MS");
  });
});

describe("terminal escapes in names and tags (item 6)", () => {
  it("refuses control characters at write, in the CLI and in the store", async () => {
    const home = await tempHome();
    const env = cliEnv(home);
    const r = await runCli(
      [
        "train",
        "--method",
        "simclr",
        "--dataset",
        "synthetic",
        "--dry-run",
        "--name",
        "a\u001b[31mred",
        "--set",
        "eval.knn=false",
      ],
      env,
    );
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
