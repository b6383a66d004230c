/**
 * Training on a folder of the user's own images, end to end through the CLI: the decode pool and
 * the sample cache under SELFSUP_HOME, a bad file skipped (skipBad) and stored with the run, a
 * later run reading the cache, and `selfsup cache ls|rm`.
 */
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { grayPng } from "@selfsup/core/testing";
import { openStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import { cliEnv, runCli, tempHome, writeConfig } from "./helpers.js";

describe("image-folder runs", () => {
  it("trains with skipBad (the bad file is a warning, an artifact and a count), caches samples, cache ls/rm", async () => {
    const home = await tempHome();
    const images = path.join(home, "photos");
    await mkdir(images);
    for (let i = 0; i < 24; i++) {
      const png = grayPng(12, i);
      await writeFile(
        path.join(images, `img-${String(i).padStart(2, "0")}.png`),
        i === 9 ? png.subarray(0, 60) : png,
      );
    }
    const file = await writeConfig(
      home,
      [
        "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
        "backbone: { name: convnet, options: { width: 4, strides: [2] } }",
        `dataset: { name: image-folder, options: { path: ${JSON.stringify(images)}, size: 8, channels: 1, skipBad: true, workers: 2 } }`,
        "training: { epochs: 2, batchSize: 4 }",
        "eval: { knn: false }",
        "augmentations: [{ name: noise }]",
      ].join("\n"),
    );
    const env = cliEnv(home);
    const first = await runCli(["train", file, "--json"], env);
    expect(first.code, first.stderr).toBe(0);
    const logs = first.events.filter((e) => e.type === "log").map((e) => String(e.message));
    expect(logs.join("\n")).toMatch(
      /skipped a bad file \(skipBad\): .*img-09\.png: a corrupt or truncated PNG image/,
    );
    const runId = String(first.events.find((e) => e.type === "start")?.runId);

    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const run = await store.getRun(runId);
      expect(run?.summary.skipped_files).toBe(1);
      const [art] = await store.getArtifacts(runId, { kind: "data" });
      expect(art?.name).toBe("skipped-files.json");
      expect(art?.data).toEqual([
        { file: path.join(images, "img-09.png"), reason: expect.stringMatching(/truncated PNG/) },
      ]);
    } finally {
      await store.close();
    }

    // the cache was built under SELFSUP_HOME/cache during the first run
    const caches = await readdir(path.join(home, "cache"));
    expect(caches.filter((n) => n.endsWith(".cache"))).toHaveLength(1);
    const ls = await runCli(["cache", "ls"], env);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(
      /image-folder-photos-[0-9a-f]{16}\.cache .* 24 samples 8x8x1 \(center-crop\) of .*photos, 1 bad files/,
    );

    // a second run trains from the cache (same samples, nothing to decode) and still lists the bad file
    const second = await runCli(["train", file, "--json"], env);
    expect(second.code, second.stderr).toBe(0);
    expect(
      second.events
        .filter((e) => e.type === "log")
        .map((e) => String(e.message))
        .join("\n"),
    ).toMatch(/img-09\.png/);

    const rm = await runCli(["cache", "rm", "--all"], env);
    expect(rm.code, rm.stderr).toBe(0);
    expect(rm.stdout).toMatch(/removed .*image-folder-photos-/);
    expect((await readdir(path.join(home, "cache"))).filter((n) => n.endsWith(".cache"))).toEqual([]);
    const none = await runCli(["cache", "rm"], env);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/name the cache files to remove, or --all, or --bad/);
  });
});
