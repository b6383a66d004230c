import { beforeEach, expect, it } from "vitest";
import { type ListRunsOptions, type Run, type RunStore, StoreError } from "../../src/index.js";
import { reset, type SuiteContext } from "../drivers.js";

/** All pages of a listing, checking page sizes and cursors on the way. */
async function allPages(store: RunStore, options: ListRunsOptions, pageSize: number): Promise<Run[]> {
  const out: Run[] = [];
  let after: string | null = null;
  for (let i = 0; i < 100; i++) {
    const page = await store.listRuns({ ...options, first: pageSize, after });
    expect(page.runs.length).toBeLessThanOrEqual(pageSize);
    out.push(...page.runs);
    if (!page.pageInfo.hasNextPage) {
      // The cursor of the last page leads to an empty page.
      if (page.pageInfo.endCursor) {
        const beyond = await store.listRuns({ ...options, first: pageSize, after: page.pageInfo.endCursor });
        expect(beyond.runs).toEqual([]);
        expect(beyond.pageInfo).toEqual({ hasNextPage: false, endCursor: null });
      }
      return out;
    }
    expect(page.runs.length).toBe(pageSize);
    after = page.pageInfo.endCursor;
    expect(after).toBeTypeOf("string");
  }
  throw new Error("pagination did not end");
}

async function expectStoreError(p: Promise<unknown>, code: string, field?: string): Promise<StoreError> {
  const err = await p.then(
    () => {
      throw new Error("expected a StoreError");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  const se = err as StoreError;
  expect(se.code).toBe(code);
  if (field !== undefined) {
    expect(se.field).toBe(field);
    expect(se.message).toContain(field);
  }
  return se;
}

export function runsSuite(ctx: SuiteContext): void {
  let store: RunStore;
  beforeEach(async () => {
    store = ctx.store;
    await reset(store);
  });

  it("groups runs by a column or a config value with mean and std of a summary number", async () => {
    const knn = { simclr: [0.9, 0.8, 0.85], byol: [0.7, 0.75] } as const;
    for (const [method, values] of Object.entries(knn)) {
      for (const [seed, v] of values.entries()) {
        await store.createRun({
          method,
          config: { optimizer: { lr: method === "simclr" ? 0.1 : 0.01 }, seed },
          summary: { knn_top1: v },
        });
      }
    }
    await store.createRun({ method: "mae", config: { optimizer: { lr: 0.1 } } }); // no knn_top1
    const groups = await store.groupRuns({ by: "method", metric: "knn_top1" });
    expect(groups.map((g) => [g.value, g.runs, g.n])).toEqual([
      ["simclr", 3, 3],
      ["byol", 2, 2],
      ["mae", 1, 0],
    ]);
    expect(groups[0].mean).toBeCloseTo(0.85, 12);
    expect(groups[0].std).toBeCloseTo(0.05, 12);
    expect([groups[1].min, groups[1].max]).toEqual([0.7, 0.75]);
    expect([groups[2].mean, groups[2].std]).toEqual([null, null]);
    const byLr = await store.groupRuns({
      by: "config:optimizer.lr",
      metric: "knn_top1",
      filter: { method: "simclr" },
    });
    expect(byLr.map((g) => [g.value, g.runs])).toEqual([["0.1", 3]]);
    // A later summary update moves the run between sorted positions and group statistics.
    const [first] = (await store.listRuns({ filter: { method: "byol" } })).runs;
    await store.updateSummary(first.id, { knn_top1: 0.99 });
    const top = await store.listRuns({ orderBy: { field: "summary:knn_top1", direction: "desc" }, first: 1 });
    expect(top.runs[0].id).toBe(first.id);
    await expect(store.groupRuns({ by: "config:a b" as "config:x", metric: "knn_top1" })).rejects.toThrow(
      /by/,
    );
    await expect(store.groupRuns({ by: "name" as "method", metric: "knn_top1" })).rejects.toThrow(/by/);
  });

  it("creates a run with defaults and reads it back", async () => {
    const run = await store.createRun({
      method: "simclr",
      family: "contrastive",
      dataset: "mnist",
      backbone: "convnet",
      config: { lr: 0.1, aug: { crop: [0.2, 1] }, name: "x" },
      tags: ["a", "b", "a"],
    });
    expect(run.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(run.status).toBe("queued");
    expect(run.name).toBe(`simclr-mnist-${run.id.slice(-6).toLowerCase()}`);
    expect(run.tags).toEqual(["a", "b"]);
    expect(run.config).toEqual({ lr: 0.1, aug: { crop: [0.2, 1] }, name: "x" });
    expect(run.summary).toEqual({});
    expect(run.createdAt).toBeInstanceOf(Date);
    expect(run.startedAt).toBeNull();
    expect(await store.getRun(run.id)).toEqual(run);
    expect(await store.getRun("nope")).toBeNull();
  });

  it("ids sort by creation order", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await store.createRun({ method: "rotation" })).id);
    expect([...ids].sort()).toEqual(ids);
  });

  it("refuses bad input with errors naming the field", async () => {
    await expectStoreError(store.createRun({ method: "" }), "invalid_input", "method");
    await expectStoreError(store.createRun({ id: "bad id!", method: "m" }), "invalid_input", "id");
    await expectStoreError(
      store.createRun({ method: "m", summary: { "bad key": 1 } }),
      "invalid_input",
      "summary.bad key",
    );
    await expectStoreError(
      store.createRun({ method: "m", summary: { acc: Number.NaN } }),
      "invalid_input",
      "summary.acc",
    );
    await expectStoreError(
      store.createRun({ method: "m", extra: 1 } as unknown as Parameters<RunStore["createRun"]>[0]),
      "invalid_input",
    );
    await expectStoreError(store.getRun(""), "invalid_input", "id");
    await store.createRun({ id: "dup", method: "m" });
    await expectStoreError(store.createRun({ id: "dup", method: "m" }), "conflict", "id");
    await expectStoreError(store.createRun({ method: "m", parentId: "ghost" }), "not_found", "parentId");
    await expectStoreError(store.markStarted("ghost"), "not_found", "id");
    await expectStoreError(store.finishRun("ghost", { status: "finished" }), "not_found", "id");
    await expectStoreError(
      store.finishRun("dup", { status: "running" as unknown as "finished" }),
      "invalid_input",
      "status",
    );
    await expectStoreError(store.listRuns({ first: 501 }), "invalid_input", "first");
    await expectStoreError(store.listRuns({ first: -1 }), "invalid_input", "first");
    await expectStoreError(
      store.listRuns({ filter: { status: ["done" as unknown as "finished"] } }),
      "invalid_input",
      "filter.status.0",
    );
    await expectStoreError(
      store.listRuns({ orderBy: { field: "summary:bad key" } }),
      "invalid_input",
      "orderBy.field",
    );
    await expectStoreError(
      store.listRuns({ orderBy: { field: "bogus" as "name" } }),
      "invalid_input",
      "orderBy.field",
    );
    await expectStoreError(store.listRuns({ after: "garbage" }), "invalid_input", "after");
    await expectStoreError(
      store.countRuns({ createdFrom: "not a date" }),
      "invalid_input",
      "filter.createdFrom",
    );
    await expectStoreError(store.markStaleRuns(0), "invalid_input", "olderThanMs");
    // PostgreSQL text cannot hold U+0000: refused by name, not a driver error (a 500 upstream).
    for (const field of ["search", "method", "dataset", "tag"] as const)
      await expectStoreError(
        store.listRuns({ filter: { [field]: "a\u0000b" } }),
        "invalid_input",
        `filter.${field}`,
      );
    await expectStoreError(store.createRun({ method: "m", notes: "x\u0000" }), "invalid_input", "notes");
  });

  it("walks the lifecycle: start, heartbeat, finish with summary", async () => {
    const run = await store.createRun({ method: "byol", summary: { epochs: 1 } });
    const started = await store.markStarted(run.id, { host: "gpu-1", backend: "wasm" });
    expect(started.status).toBe("running");
    expect(started.host).toBe("gpu-1");
    expect(started.startedAt).toBeInstanceOf(Date);
    expect(started.heartbeatAt).toBeInstanceOf(Date);
    expect(await store.heartbeat(run.id)).toBe("running");
    // Resuming keeps the first start time.
    const again = await store.markStarted(run.id);
    expect(again.startedAt).toEqual(started.startedAt);
    expect(again.host).toBe("gpu-1");

    const summary = await store.updateSummary(run.id, { loss: 1.5 });
    expect(summary).toEqual({ epochs: 1, loss: 1.5 });
    const done = await store.finishRun(run.id, {
      status: "finished",
      summary: { loss: 1.2, knn_top1: 0.93 },
    });
    expect(done.status).toBe("finished");
    expect(done.summary).toEqual({ epochs: 1, loss: 1.2, knn_top1: 0.93 });
    expect(done.finishedAt).toBeInstanceOf(Date);
    expect(done.error).toBeNull();
    expect(await store.heartbeat(run.id)).toBe("finished");

    const failed = await store.createRun({ method: "byol", status: "running" });
    expect(failed.startedAt).toBeInstanceOf(Date);
    const f = await store.finishRun(failed.id, { status: "failed", error: "NaN loss at step 12" });
    expect(f).toMatchObject({ status: "failed", error: "NaN loss at step 12" });
  });

  it("cancellation wins over a racing worker", async () => {
    const run = await store.createRun({ method: "moco" });
    expect((await store.cancelRun(run.id)).status).toBe("cancelled");
    await expectStoreError(store.markStarted(run.id), "conflict", "id");

    const running = await store.createRun({ method: "moco", status: "running" });
    await store.cancelRun(running.id);
    expect(await store.heartbeat(running.id)).toBe("cancelled");
    const end = await store.finishRun(running.id, { status: "interrupted", summary: { step: 40 } });
    expect(end.status).toBe("cancelled");
    expect(end.summary).toEqual({ step: 40 });
    // Cancelling an ended run changes nothing.
    const fin = await store.createRun({ method: "moco" });
    await store.finishRun(fin.id, { status: "finished" });
    expect((await store.cancelRun(fin.id)).status).toBe("finished");
    expect(await store.deleteRun(fin.id)).toBe(true);
    expect(await store.deleteRun(fin.id)).toBe(false);
  });

  it("marks runs with an old heartbeat as failed, and only those", async () => {
    const stale = await store.createRun({ method: "mae", status: "running" });
    const noBeat = await store.createRun({ method: "mae", status: "running" });
    const fresh = await store.createRun({ method: "mae", status: "running" });
    const queued = await store.createRun({ method: "mae" });
    await store.db.query("UPDATE runs SET heartbeat_at = now() - interval '10 minutes' WHERE id = $1", [
      stale.id,
    ]);
    await store.db.query(
      "UPDATE runs SET heartbeat_at = NULL, started_at = now() - interval '1 hour' WHERE id = $1",
      [noBeat.id],
    );
    await store.db.query("UPDATE runs SET created_at = now() - interval '1 day' WHERE id = $1", [queued.id]);
    const ids = await store.markStaleRuns(60_000);
    expect(ids).toEqual([stale.id, noBeat.id].sort());
    const s = await store.getRun(stale.id);
    expect(s).toMatchObject({ status: "failed", error: "stale heartbeat" });
    expect(s?.finishedAt).toBeInstanceOf(Date);
    expect((await store.getRun(fresh.id))?.status).toBe("running");
    expect((await store.getRun(queued.id))?.status).toBe("queued");
    expect(await store.markStaleRuns(60_000)).toEqual([]);
    // A slow-but-alive worker may still finish the run.
    expect((await store.finishRun(stale.id, { status: "finished" })).status).toBe("finished");
  });

  it("edits tags and notes", async () => {
    const run = await store.createRun({ method: "jigsaw", tags: ["x"] });
    expect(await store.setTags(run.id, ["b", "a", "b"])).toEqual(["b", "a"]);
    expect(await store.addTag(run.id, "c")).toEqual(["b", "a", "c"]);
    expect(await store.addTag(run.id, "c")).toEqual(["b", "a", "c"]);
    expect(await store.removeTag(run.id, "a")).toEqual(["b", "c"]);
    await store.setNote(run.id, "lr too high?");
    expect((await store.getRun(run.id))?.notes).toBe("lr too high?");
    await store.setNote(run.id, null);
    expect((await store.getRun(run.id))?.notes).toBeNull();
    await expectStoreError(store.addTag(run.id, "  "), "invalid_input", "tag");
    await expectStoreError(store.setTags("ghost", []), "not_found", "id");
    await expectStoreError(store.setNote("ghost", "x"), "not_found", "id");
  });

  it("lists nothing when there is nothing", async () => {
    const page = await store.listRuns();
    expect(page).toEqual({ runs: [], pageInfo: { hasNextPage: false, endCursor: null } });
    expect(await store.countRuns()).toBe(0);
    const zero = await store.listRuns({ first: 0 });
    expect(zero.pageInfo.hasNextPage).toBe(false);
  });

  it("keeps the total count right through creates, deletes, SQL around the store and TRUNCATE", async () => {
    const a = await store.createRun({ method: "m" });
    await store.createRun({ method: "m" });
    expect(await store.countRuns()).toBe(2);
    await store.db.exec(
      "INSERT INTO runs (id, name, method) SELECT 'bulk' || g, 'bulk', 'x' FROM generate_series(1, 5) AS g",
    );
    expect(await store.countRuns()).toBe(7);
    expect(await store.deleteRun(a.id)).toBe(true);
    await store.db.exec("DELETE FROM runs WHERE id IN ('bulk1', 'bulk2')");
    expect(await store.countRuns()).toBe(4);
    // Counts by method / status (counters) and by other filters (rows) agree with the rows.
    expect(await store.countRuns({ method: "x" })).toBe(3);
    await store.markStarted((await store.createRun({ method: "x" })).id);
    await store.db.exec("UPDATE runs SET status = 'failed' WHERE id = 'bulk3'");
    await store.db.exec("UPDATE runs SET heartbeat_at = now()");
    expect(await store.countRuns({ method: "x", status: ["running"] })).toBe(1);
    expect(await store.countRuns({ status: ["failed", "running"] })).toBe(2);
    expect(await store.countRuns({ method: "x", search: "" })).toBe(4);
    expect(await store.countRuns({ method: "x", search: "bulk" })).toBe(3);
    const byRows = await store.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM runs WHERE method = 'x' AND status = 'queued'",
    );
    expect(await store.countRuns({ method: "x", status: ["queued"] })).toBe(Number(byRows[0].n));
    await store.createRun({ method: "m" });
    expect(await store.countRuns()).toBe(6);
    await store.db.exec("DELETE FROM runs WHERE id = 'bulk4'");
    expect(await store.countRuns()).toBe(5);
    await store.db.exec("TRUNCATE runs CASCADE");
    expect(await store.countRuns()).toBe(0);
    await store.createRun({ method: "m" });
    expect(await store.countRuns()).toBe(1);
  });

  it("paginates newest first by default, with an exact page boundary", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await store.createRun({ method: "simsiam" })).id);
    const p1 = await store.listRuns({ first: 3 });
    expect(p1.runs.map((r) => r.id)).toEqual(ids.slice(3).reverse());
    expect(p1.pageInfo.hasNextPage).toBe(true);
    const p2 = await store.listRuns({ first: 3, after: p1.pageInfo.endCursor });
    expect(p2.runs.map((r) => r.id)).toEqual(ids.slice(0, 3).reverse());
    expect(p2.pageInfo.hasNextPage).toBe(false);
    const p3 = await store.listRuns({ first: 3, after: p2.pageInfo.endCursor });
    expect(p3.runs).toEqual([]);
    const zero = await store.listRuns({ first: 0 });
    expect(zero.runs).toEqual([]);
    expect(zero.pageInfo.hasNextPage).toBe(true);
    // created_at keeps microseconds through the cursor: one-by-one pages see every run once.
    expect(
      (await allPages(store, { orderBy: { field: "created_at", direction: "asc" } }, 1)).map((r) => r.id),
    ).toEqual(ids);
  });

  it("lists runs without their config when asked to, with the same pages and cursors", async () => {
    for (let i = 0; i < 5; i++)
      await store.createRun({
        method: "simclr",
        config: { seed: i, big: "x".repeat(1000) },
        summary: { knn: i },
      });
    for (const orderBy of [undefined, { field: "summary:knn" as const, direction: "desc" as const }]) {
      const full = await store.listRuns({ first: 3, orderBy });
      const lean = await store.listRunListings({ first: 3, orderBy });
      expect(lean.pageInfo).toEqual(full.pageInfo);
      expect(lean.runs.map((r) => "config" in r)).toEqual([false, false, false]);
      expect(lean.runs).toEqual(full.runs.map(({ config: _config, ...rest }) => rest));
      expect(full.runs[0].config).toMatchObject({ big: "x".repeat(1000) });
    }
  });

  it("keeps pages stable when the sort key ties", async () => {
    const t = new Date("2024-05-01T12:00:00.123456Z");
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(
        (await store.createRun({ method: "vicreg", name: i < 4 ? "same" : `n${i}`, createdAt: t })).id,
      );
    }
    for (const size of [1, 2, 3, 7, 8]) {
      const asc = await allPages(store, { orderBy: { field: "created_at", direction: "asc" } }, size);
      expect(asc.map((r) => r.id)).toEqual([...ids].sort());
      const desc = await allPages(store, { orderBy: { field: "created_at", direction: "desc" } }, size);
      expect(desc.map((r) => r.id)).toEqual([...ids].sort().reverse());
    }
    const byName = await allPages(store, { orderBy: { field: "name", direction: "asc" } }, 2);
    const expected = [...byName]
      .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : x.id < y.id ? -1 : 1))
      .map((r) => r.id);
    expect(byName.map((r) => r.id)).toEqual(expected);
    expect(byName.map((r) => r.name)).toEqual(["n4", "n5", "n6", "same", "same", "same", "same"]);
    const byNameDesc = await allPages(store, { orderBy: { field: "name", direction: "desc" } }, 3);
    expect(byNameDesc.map((r) => r.id)).toEqual([...expected].reverse());
  });

  it("sorts by a summary number with ties and missing values last", async () => {
    const values: (number | undefined)[] = [0.5, undefined, 0.5, 0.9, 0.1, undefined, 0.5, -2];
    const runs: Run[] = [];
    for (const v of values) {
      runs.push(
        await store.createRun({ method: "barlow", summary: v === undefined ? { loss: 1 } : { knn_top1: v } }),
      );
    }
    const key = (r: Run) => r.summary.knn_top1;
    const expected = (dir: 1 | -1) =>
      [...runs]
        .sort((a, b) => {
          const va = key(a);
          const vb = key(b);
          if (va === undefined && vb === undefined) return dir * (a.id < b.id ? -1 : 1);
          if (va === undefined) return 1;
          if (vb === undefined) return -1;
          if (va !== vb) return dir * (va - vb);
          return dir * (a.id < b.id ? -1 : 1);
        })
        .map((r) => r.id);
    for (const size of [1, 2, 3, 8]) {
      const asc = await allPages(store, { orderBy: { field: "summary:knn_top1", direction: "asc" } }, size);
      expect(asc.map((r) => r.id)).toEqual(expected(1));
      const desc = await allPages(store, { orderBy: { field: "summary:knn_top1", direction: "desc" } }, size);
      expect(desc.map((r) => r.id)).toEqual(expected(-1));
    }
    // A cursor belongs to its ordering.
    const p = await store.listRuns({ orderBy: { field: "summary:knn_top1", direction: "asc" }, first: 2 });
    await expectStoreError(
      store.listRuns({ orderBy: { field: "summary:loss", direction: "asc" }, after: p.pageInfo.endCursor }),
      "invalid_input",
      "after",
    );
    await expectStoreError(store.listRuns({ after: p.pageInfo.endCursor }), "invalid_input", "after");
  });

  it("filters by fields, status, tag, search and creation time", async () => {
    const mk = (o: Parameters<RunStore["createRun"]>[0]) => store.createRun(o);
    const a = await mk({
      method: "simclr",
      family: "contrastive",
      dataset: "mnist",
      backbone: "convnet",
      tags: ["sweep-1"],
      name: "simclr lr=0.1",
      createdAt: "2024-01-01T00:00:00Z",
    });
    const b = await mk({
      method: "mae",
      family: "mim",
      dataset: "mnist",
      backbone: "vit-tiny",
      tags: ["sweep-1", "best"],
      notes: "looks 100% fine",
      createdAt: "2024-02-01T00:00:00Z",
    });
    const c = await mk({
      method: "rotation",
      family: "pretext",
      dataset: "cifar10",
      backbone: "convnet",
      status: "running",
      createdAt: "2024-03-01T00:00:00Z",
    });
    const ids = async (filter: Parameters<RunStore["countRuns"]>[0]) => {
      const page = await store.listRuns({ filter, orderBy: { field: "created_at", direction: "asc" } });
      expect(await store.countRuns(filter)).toBe(page.runs.length);
      return page.runs.map((r) => r.id);
    };
    expect(await ids({})).toEqual([a.id, b.id, c.id]);
    expect(await ids({ method: "mae" })).toEqual([b.id]);
    expect(await ids({ family: "pretext" })).toEqual([c.id]);
    expect(await ids({ dataset: "mnist" })).toEqual([a.id, b.id]);
    expect(await ids({ backbone: "convnet" })).toEqual([a.id, c.id]);
    expect(await ids({ status: ["running"] })).toEqual([c.id]);
    expect(await ids({ status: ["queued", "running"] })).toEqual([a.id, b.id, c.id]);
    expect(await ids({ status: [] })).toEqual([]);
    expect(await ids({ tag: "sweep-1" })).toEqual([a.id, b.id]);
    expect(await ids({ tag: "best" })).toEqual([b.id]);
    expect(await ids({ search: "LR=" })).toEqual([a.id]);
    expect(await ids({ search: "rotat" })).toEqual([c.id]);
    expect(await ids({ search: "100%" })).toEqual([b.id]);
    expect(await ids({ search: "1%" })).toEqual([]);
    expect(await ids({ search: "_" })).toEqual([]);
    expect(await ids({ createdFrom: "2024-02-01T00:00:00Z" })).toEqual([b.id, c.id]);
    expect(await ids({ createdTo: new Date("2024-02-01T00:00:00Z") })).toEqual([a.id]);
    expect(await ids({ dataset: "mnist", tag: "sweep-1", method: "simclr" })).toEqual([a.id]);
    // Filters combine with pagination.
    const pages = await allPages(store, { filter: { dataset: "mnist" } }, 1);
    expect(pages.map((r) => r.id)).toEqual([b.id, a.id]);
  });
}
