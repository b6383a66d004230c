/**
 * `selfsup train` end to end, as a user runs it: a child process with its own SELFSUP_HOME
 * (embedded PGlite), then the store read back from this process once the child has exited (an
 * embedded database is opened by one process at a time).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { openStore } from "@selfsup/store";
import { beforeAll, describe, expect, it } from "vitest";
import { cliEnv, runCli, tempHome, tinyConfig, writeConfig } from "./helpers.js";

describe("selfsup train", () => {
  let home: string;
  let runId: string;
  let result: Awaited<ReturnType<typeof runCli>>;

  beforeAll(async () => {
    home = await tempHome();
    const file = await writeConfig(
      home,
      tinyConfig({
        epochs: 2,
        extra: "eval: { knn: true, fewLabel: { labelsPerClass: [2], seeds: [0, 1] } }",
      }),
    );
    result = await runCli(
      ["train", file, "--limit", "64", "--json", "--name", "tiny-e2e", "--tag", "e2e"],
      cliEnv(home),
    );
    const start = result.events.find((e) => e.type === "start");
    runId = String(start?.runId);
  });

  it("trains to the end and exits 0, reporting progress as JSON lines", () => {
    expect(result.code, result.stderr).toBe(0);
    const types = new Set(result.events.map((e) => e.type));
    for (const t of ["start", "step", "epoch", "checkpoint", "eval", "end"]) expect(types).toContain(t);
    const start = result.events.find((e) => e.type === "start");
    expect(start).toMatchObject({
      method: "simclr",
      dataset: "synthetic",
      epochs: 2,
      stepsPerEpoch: 4,
      totalSteps: 8,
      resumed: false,
    });
    const end = result.events.at(-1);
    expect(end).toMatchObject({ type: "end", status: "finished", step: 8 });
    const step = result.events.find((e) => e.type === "step");
    expect(step).toHaveProperty("imagesPerSec");
    expect(step).toHaveProperty("lr");
    expect(step).toHaveProperty("etaSec");
  });

  it("stores the run, its metric series, evaluations, checkpoints and artifacts", async () => {
    const store = await openStore({ dataDir: path.join(home, "db") });
    try {
      const run = await store.getRun(runId);
      expect(run).toMatchObject({
        status: "finished",
        name: "tiny-e2e",
        method: "simclr",
        family: "contrastive",
        dataset: "synthetic",
        backbone: "convnet",
        backend: "cpu",
        tags: ["e2e"],
      });
      expect(run?.summary.steps).toBe(8);
      expect(run?.summary.knn_top1).toBeGreaterThan(0);
      expect(run?.config).toMatchObject({ dataset: { limit: 64 }, training: { epochs: 2 } });

      const keys = await store.metricKeys(runId);
      for (const k of ["loss", "lr", "images_per_sec", "knn_top1"]) expect(keys).toContain(k);
      const [loss, knn] = await store.readSeries(runId, ["loss", "knn_top1"], { maxPoints: 1000 });
      expect(loss?.points.map((p) => p.x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(knn?.points.map((p) => p.x)).toEqual([4, 8]);

      const evals = await store.getEvaluations(runId);
      expect(evals.map((e) => `${e.protocol}/${e.labelsPerClass ?? "all"}/${e.seed}`).sort()).toEqual([
        "knn/all/0",
        "linear/2/0",
        "linear/2/1",
      ]);

      const ckpts = await store.listCheckpoints(runId);
      const latest = ckpts.filter((c) => c.kind === "latest").map((c) => c.step);
      expect(latest).toEqual([4, 8]);
      for (const c of ckpts) expect(existsSync(path.join(c.path, "manifest.json"))).toBe(true);
      expect(ckpts[0]?.path.startsWith(path.join(home, "runs", runId, "checkpoints"))).toBe(true);

      const artifacts = await store.getArtifacts(runId, { includeBytes: true });
      const preview = artifacts.find((a) => a.kind === "augment-preview");
      expect(preview?.mime).toBe("image/png");
      expect(
        Buffer.from(preview?.bytes ?? new Uint8Array())
          .subarray(1, 4)
          .toString(),
      ).toBe("PNG");
      const pca = artifacts.find((a) => a.kind === "pca");
      const points = (pca?.data as { points?: unknown[] } | undefined)?.points;
      expect(points?.length).toBe(32);
    } finally {
      await store.close();
    }
  });

  it("`runs` lists the run in a table and as JSON, with filters", async () => {
    const table = await runCli(["runs"], cliEnv(home));
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.split("\n");
    expect(lines[0]).toMatch(/^id\s+name\s+status\s+method\s+dataset/);
    const row = lines.find((l) => l.startsWith(runId));
    expect(row).toMatch(/tiny-e2e\s+finished\s+simclr\s+synthetic\s+convnet\s+8\s/);

    const json = await runCli(["runs", "--json", "--status", "finished", "--tag", "e2e"], cliEnv(home));
    expect(JSON.parse(json.stdout).runs.map((r: { id: string }) => r.id)).toEqual([runId]);
    const bad = await runCli(["runs", "--status", "done"], cliEnv(home));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      'unknown status "done"; allowed: queued, running, finished, failed, interrupted, cancelled',
    );
  });
});

describe("selfsup train: bad input", () => {
  it("exits 2 naming the field, the value and what is allowed", async () => {
    const home = await tempHome();
    const r = await runCli(
      ["train", "--method", "simclr", "--dataset", "synthetic", "--epochs", "0"],
      cliEnv(home),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/training\.epochs: .*>=1.*\(got 0\)/);
  });

  it("exits 2 listing the installed methods for an unknown one", async () => {
    const home = await tempHome();
    const r = await runCli(["train", "--method", "simclrr", "--dataset", "synthetic"], cliEnv(home));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/method\.name: unknown method "simclrr"; installed methods: .*simclr/);
  });

  it("exits 2 on an unknown flag, with help", async () => {
    const home = await tempHome();
    const r = await runCli(["train", "--epoch", "3"], cliEnv(home));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--epoch'");
  });
});
