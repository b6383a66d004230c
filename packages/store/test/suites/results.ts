import { beforeEach, expect, it } from "vitest";
import { type RunStore, StoreError } from "../../src/index.js";
import { reset, type SuiteContext } from "../drivers.js";

export function resultsSuite(ctx: SuiteContext): void {
  let store: RunStore;
  beforeEach(async () => {
    store = ctx.store;
    await reset(store);
  });

  async function finishedRun(method: string, dataset = "mnist", family = "contrastive") {
    const run = await store.createRun({ method, dataset, family, backbone: "convnet", status: "running" });
    await store.finishRun(run.id, { status: "finished" });
    return run;
  }

  it("records evaluations; re-evaluating replaces the value", async () => {
    const run = await finishedRun("simclr");
    const e1 = await store.addEvaluation({
      runId: run.id,
      protocol: "knn",
      labelsPerClass: 10,
      metric: "top1",
      value: 0.8,
    });
    expect(e1).toMatchObject({
      runId: run.id,
      protocol: "knn",
      labelsPerClass: 10,
      seed: 0,
      metric: "top1",
      value: 0.8,
    });
    expect(e1.createdAt).toBeInstanceOf(Date);
    const e2 = await store.addEvaluation({
      runId: run.id,
      protocol: "knn",
      labelsPerClass: 10,
      metric: "top1",
      value: 0.85,
    });
    expect(e2.id).toBe(e1.id);
    // "all labels" (null) is one value too.
    await store.addEvaluation({ runId: run.id, protocol: "linear", metric: "top1", value: 0.9 });
    await store.addEvaluation({
      runId: run.id,
      protocol: "linear",
      labelsPerClass: null,
      metric: "top1",
      value: 0.91,
    });
    await store.addEvaluation({
      runId: run.id,
      protocol: "knn",
      labelsPerClass: 10,
      seed: 1,
      metric: "top1",
      value: 0.83,
    });
    const evals = await store.getEvaluations(run.id);
    expect(evals.map((e) => [e.protocol, e.labelsPerClass, e.seed, e.value])).toEqual([
      ["knn", 10, 0, 0.85],
      ["knn", 10, 1, 0.83],
      ["linear", null, 0, 0.91],
    ]);
    await expect(
      store.addEvaluation({ runId: "ghost", protocol: "knn", metric: "top1", value: 1 }),
    ).rejects.toMatchObject({ code: "not_found", field: "runId" });
    await expect(
      store.addEvaluation({ runId: run.id, protocol: "knn", labelsPerClass: 0, metric: "top1", value: 1 }),
    ).rejects.toThrow(/labelsPerClass/);
    await expect(
      store.addEvaluation({ runId: run.id, protocol: "knn", metric: "top1", value: Number.NaN }),
    ).rejects.toThrow(/value/);
  });

  it("builds a leaderboard: best run per method, mean over seeds", async () => {
    const a1 = await finishedRun("simclr");
    const a2 = await finishedRun("simclr");
    const b1 = await finishedRun("mae", "mnist", "mim");
    const c1 = await finishedRun("rotation", "mnist", "pretext");
    const other = await finishedRun("byol", "cifar10");
    const unfinished = await store.createRun({ method: "byol", dataset: "mnist", status: "running" });
    const add = (
      runId: string,
      value: number,
      seed = 0,
      labelsPerClass: number | null = 10,
      metric = "top1",
    ) => store.addEvaluation({ runId, protocol: "linear", labelsPerClass, seed, metric, value });
    await add(a1.id, 0.8, 0);
    await add(a1.id, 0.9, 1); // mean 0.85
    await add(a2.id, 0.84); // worse than a1's mean
    await add(b1.id, 0.7);
    await add(c1.id, 0.6);
    await add(other.id, 0.99); // other dataset
    await add(unfinished.id, 0.95); // not finished
    await add(c1.id, 0.95, 0, 100); // another label budget
    await add(b1.id, 0.1, 0, 10, "top5"); // another metric
    await store.addEvaluation({
      runId: b1.id,
      protocol: "knn",
      labelsPerClass: 10,
      metric: "top1",
      value: 0.99,
    });

    const board = await store.leaderboard("mnist", "linear", "top1", { labelsPerClass: 10 });
    expect(board.map((e) => [e.method, e.runId])).toEqual([
      ["simclr", a1.id],
      ["mae", b1.id],
      ["rotation", c1.id],
    ]);
    expect(board[0].value).toBeCloseTo(0.85, 12);
    expect(board[0].seeds).toBe(2);
    expect(board[0].std).toBeCloseTo(Math.sqrt(0.005), 12);
    expect(board[1]).toMatchObject({
      method: "mae",
      family: "mim",
      labelsPerClass: 10,
      seeds: 1,
      std: null,
      backbone: "convnet",
    });

    // Without a label budget: one entry per (method, budget).
    const all = await store.leaderboard("mnist", "linear", "top1");
    expect(all.map((e) => [e.method, e.labelsPerClass])).toEqual([
      ["simclr", 10],
      ["mae", 10],
      ["rotation", 10],
      ["rotation", 100],
    ]);
    const withUnfinished = await store.leaderboard("mnist", "linear", "top1", {
      labelsPerClass: 10,
      includeUnfinished: true,
    });
    expect(withUnfinished[0].method).toBe("byol");
    const lowest = await store.leaderboard("mnist", "linear", "top1", {
      labelsPerClass: 10,
      lowerIsBetter: true,
    });
    expect(lowest.map((e) => [e.method, e.runId])).toEqual([
      ["rotation", c1.id],
      ["mae", b1.id],
      ["simclr", a2.id],
    ]);
    expect(await store.leaderboard("imagenet", "linear", "top1")).toEqual([]);
    await expect(store.leaderboard("", "linear", "top1")).rejects.toThrow(/dataset/);
  });

  it("tracks checkpoints; the latest is what resume loads", async () => {
    const run = await store.createRun({ method: "byol", status: "running" });
    expect(await store.latestCheckpoint(run.id)).toBeNull();
    await store.addCheckpoint({ runId: run.id, path: "/ck/latest.ckpt", step: 100, checksum: "sha256:a" });
    await store.addCheckpoint({ runId: run.id, path: "/ck/best.ckpt", step: 80, kind: "best" });
    // The "latest" file is rewritten in place: same row, new step.
    const latest = await store.addCheckpoint({
      runId: run.id,
      path: "/ck/latest.ckpt",
      step: 200,
      checksum: "sha256:b",
    });
    expect(latest).toMatchObject({ runId: run.id, kind: "latest", step: 200, checksum: "sha256:b" });
    expect(await store.latestCheckpoint(run.id)).toMatchObject({ path: "/ck/latest.ckpt", step: 200 });
    expect(await store.latestCheckpoint(run.id, "best")).toMatchObject({
      path: "/ck/best.ckpt",
      step: 80,
      checksum: null,
    });
    expect((await store.listCheckpoints(run.id)).map((c) => c.step)).toEqual([80, 200]);
    await expect(store.addCheckpoint({ runId: run.id, path: "", step: 1 })).rejects.toThrow(/path/);
    await expect(store.addCheckpoint({ runId: "ghost", path: "/x", step: 1 })).rejects.toBeInstanceOf(
      StoreError,
    );
  });

  it("stores image and JSON artifacts for the dashboard", async () => {
    const run = await store.createRun({ method: "mae" });
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255, 1, 2]);
    const img = await store.addArtifact({
      runId: run.id,
      kind: "reconstruction",
      name: "epoch-1.png",
      mime: "image/png",
      step: 100,
      bytes: png,
    });
    expect(img).toMatchObject({ kind: "reconstruction", mime: "image/png", step: 100, size: 8, data: null });
    expect(Array.from(img.bytes ?? [])).toEqual(Array.from(png));
    const scatter = { points: [{ x: 0.5, y: -1, label: 3 }], explained: [0.4, 0.2] };
    await store.addArtifact({
      runId: run.id,
      kind: "pca",
      name: "embeddings",
      mime: "application/json",
      data: scatter,
    });
    // Same (run, kind, name) replaces.
    await store.addArtifact({
      runId: run.id,
      kind: "reconstruction",
      name: "epoch-1.png",
      mime: "image/png",
      bytes: png.slice(0, 4),
    });

    const all = await store.getArtifacts(run.id);
    expect(all.map((a) => [a.kind, a.name, a.size])).toEqual([
      ["pca", "embeddings", JSON.stringify(scatter).length],
      ["reconstruction", "epoch-1.png", 4],
    ]);
    expect(all[0].data).toEqual(scatter);
    expect(all[0].bytes).toBeNull();
    const listing = await store.getArtifacts(run.id, { kind: "reconstruction", includeBytes: false });
    expect(listing).toHaveLength(1);
    expect(listing[0].bytes).toBeNull();
    expect(listing[0].size).toBe(4);
    const one = await store.getArtifact(run.id, "reconstruction", "epoch-1.png");
    expect(Array.from(one?.bytes ?? [])).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(await store.getArtifact(run.id, "pca", "nope")).toBeNull();

    await expect(
      store.addArtifact({ runId: run.id, kind: "pca", name: "x", mime: "application/json" }),
    ).rejects.toThrow(/exactly one of bytes or data/);
    await expect(
      store.addArtifact({ runId: run.id, kind: "pca", name: "x", mime: "json", data: {} }),
    ).rejects.toThrow(/mime/);
    await expect(
      store.addArtifact({ runId: "ghost", kind: "pca", name: "x", mime: "application/json", data: {} }),
    ).rejects.toMatchObject({ code: "not_found" });
    // Deleting the run removes what it owns.
    await store.deleteRun(run.id);
    expect(await store.getArtifacts(run.id)).toEqual([]);
  });

  it("batched reads answer many runs in one call (the dashboard's DataLoaders)", async () => {
    const a = await finishedRun("simclr");
    const b = await finishedRun("byol", "cifar10", "contrastive");
    await store.addTag(a.id, "paper");
    await store.addEvaluation({
      runId: a.id,
      protocol: "knn",
      labelsPerClass: 10,
      metric: "top1",
      value: 0.8,
    });
    await store.addEvaluation({ runId: b.id, protocol: "linear", metric: "top1", value: 0.7 });
    await store.addCheckpoint({ runId: b.id, kind: "latest", path: "/tmp/ck-1", step: 1 });
    await store.addArtifact({
      runId: a.id,
      kind: "pca",
      name: "pca.json",
      mime: "application/json",
      data: { x: 1 },
    });
    await store.appendMetrics(a.id, [
      { key: "loss", step: 1, value: 2 },
      { key: "loss", step: 2, value: 1 },
    ]);
    const runs = await store.runsByIds([a.id, b.id, "missing"]);
    expect(runs.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
    expect((await store.evaluationsByRunIds([a.id, b.id])).map((e) => [e.runId, e.protocol])).toEqual([
      [a.id, "knn"],
      [b.id, "linear"],
    ]);
    expect((await store.checkpointsByRunIds([a.id, b.id])).map((c) => c.runId)).toEqual([b.id]);
    const [art] = await store.artifactListingsByRunIds([a.id]);
    expect(art).toMatchObject({ runId: a.id, name: "pca.json", bytes: null, data: { x: 1 } });
    expect(art!.size).toBeGreaterThan(0);
    expect(await store.metricKeysByRunIds([a.id, b.id])).toEqual([{ runId: a.id, key: "loss" }]);
    expect(await store.metricStats([{ runId: a.id, key: "loss" }])).toEqual([
      { runId: a.id, key: "loss", min: 1, max: 2, last: 1, lastStep: 2, count: 2 },
    ]);
    const facets = await store.facets();
    expect(facets.methods.map((f) => f.value).sort()).toEqual(["byol", "simclr"]);
    expect(facets.tags).toEqual([{ value: "paper", count: 1 }]);
    expect(facets.metricKeys).toEqual(["loss"]);
    expect(await store.leaderboardScopes()).toEqual([
      { dataset: "cifar10", protocol: "linear", metric: "top1", labelsPerClass: [null], runs: 1 },
      { dataset: "mnist", protocol: "knn", metric: "top1", labelsPerClass: [10], runs: 1 },
    ]);
    await expect(store.runsByIds(Array.from({ length: 1001 }, (_, i) => `r${i}`))).rejects.toThrow(
      /at most 1000 run ids/,
    );
  });
}
