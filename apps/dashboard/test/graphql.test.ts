/**
 * The GraphQL API end to end through Apollo Server (validation rules, cost plugin, resolvers,
 * DataLoaders, error formatting) against an in-memory PGlite store seeded with demo runs and one
 * run of 20,000 points with a planted spike and dip.
 */
import { openStore, type Run, type RunStore } from "@selfsup/store";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { seedDemo } from "../scripts/seed.mjs";
import type { ControlClient } from "../src/server/control";
import { runnerControlClient, runnerUnavailable } from "../src/server/control";
import { LIMITS } from "../src/server/limits";
import { codes, countQueries, makeExec, stopApollo } from "./helpers";

let store: RunStore;
let exec: ReturnType<typeof makeExec>;
let demo: Run[];
let spike: Run;
const SPIKE_STEP = 12_345;
const DIP_STEP = 777;
const N_POINTS = 20_000;

beforeAll(async () => {
  store = await openStore({ url: "memory://" });
  demo = await seedDemo(store, {
    count: 40,
    withMetrics: 3,
    points: 300,
    now: Date.parse("2025-06-01T12:00:00Z"),
  });
  spike = await store.createRun({
    id: "spike-run",
    name: "spike-run",
    method: "simclr",
    family: "contrastive",
    dataset: "cifar10",
    createdAt: "2025-06-01T13:00:00Z",
    status: "running",
    config: { method: { name: "simclr" } },
  });
  const t0 = Date.parse("2025-06-01T13:00:00Z");
  const points = [];
  for (let s = 0; s < N_POINTS; s++) {
    let v = Math.sin(s / 300) + 0.01 * (s % 7);
    if (s === SPIKE_STEP) v = 1000;
    if (s === DIP_STEP) v = -500;
    points.push({ key: "loss", step: s, value: v, wallTime: new Date(t0 + s * 100) });
  }
  await store.appendMetrics(spike.id, points);
  exec = makeExec(store);
}, 240_000);

afterAll(async () => {
  await stopApollo();
  await store?.close();
});

const newestFirst = () =>
  [...demo, spike].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (b.id < a.id ? -1 : 1));

interface Page {
  runs: {
    edges: Array<{
      cursor: string;
      node: {
        id: string;
        name: string;
        method: string;
        status: string;
        tags: string[];
        summaryValue: number | null;
      };
    }>;
    pageInfo: {
      hasNextPage: boolean;
      hasPreviousPage: boolean;
      endCursor: string | null;
      startCursor: string | null;
    };
    totalCount: number;
  };
}

const PAGE = `
query Page($filter: RunFilter, $orderBy: RunOrder, $first: Int, $after: String, $key: String!) {
  runs(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    edges { cursor node { id name method status tags summaryValue(key: $key) } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}`;

async function page(vars: Record<string, unknown>) {
  const r = await exec<Page>(PAGE, { key: "knn_top1", ...vars });
  expect(r.errors).toBeUndefined();
  return r.data!.runs;
}

describe("runs connection", () => {
  it("lists newest first with a total count", async () => {
    const p = await page({ first: 10 });
    expect(p.edges.map((e) => e.node.id)).toEqual(
      newestFirst()
        .slice(0, 10)
        .map((r) => r.id),
    );
    expect(p.totalCount).toBe(41);
    expect(p.pageInfo.hasNextPage).toBe(true);
    expect(p.pageInfo.hasPreviousPage).toBe(false);
    expect(p.pageInfo.endCursor).toBe(p.edges[9].cursor);
  });

  it("pages through everything with endCursor, without gaps or repeats, and ends cleanly", async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const p: Page["runs"] = await page({ first: 7, after });
      seen.push(...p.edges.map((e) => e.node.id));
      if (!p.pageInfo.hasNextPage) {
        expect(p.edges.length).toBe(41 % 7);
        after = p.pageInfo.endCursor;
        break;
      }
      after = p.pageInfo.endCursor;
    }
    expect(seen).toEqual(newestFirst().map((r) => r.id));
    const beyond = await page({ first: 7, after });
    expect(beyond.edges).toEqual([]);
    expect(beyond.pageInfo.hasNextPage).toBe(false);
    expect(beyond.pageInfo.endCursor).toBeNull();
  });

  it("resumes from any edge's cursor, not only the last", async () => {
    const all = newestFirst().map((r) => r.id);
    const first = await page({ first: 5 });
    const fromThird = await page({ first: 4, after: first.edges[2].cursor });
    expect(fromThird.edges.map((e) => e.node.id)).toEqual(all.slice(3, 7));
    expect(fromThird.pageInfo.hasPreviousPage).toBe(true);
    const chained = await page({ first: 3, after: fromThird.edges[1].cursor });
    expect(chained.edges.map((e) => e.node.id)).toEqual(all.slice(5, 8));
  });

  it("answers first: 0 with no edges, and an exact last page with hasNextPage false", async () => {
    const none = await page({ first: 0 });
    expect(none.edges).toEqual([]);
    expect(none.pageInfo.hasNextPage).toBe(true);
    const exact = await page({ first: 41 });
    expect(exact.edges.length).toBe(41);
    expect(exact.pageInfo.hasNextPage).toBe(false);
  });

  it("refuses a page larger than the limit, a negative one and a forged cursor", async () => {
    const big = await exec(PAGE, { key: "x", first: LIMITS.maxPageSize + 1 });
    expect(codes(big)).toEqual(["BAD_USER_INPUT"]);
    expect(big.errors![0].message).toMatch(/first must be an integer from 0 to 200 \(got 201\)/);
    expect(codes(await exec(PAGE, { key: "x", first: -1 }))).toEqual(["BAD_USER_INPUT"]);
    const forged = await exec(PAGE, { key: "x", after: "not-a-cursor" });
    expect(codes(forged)).toEqual(["BAD_USER_INPUT"]);
    expect(forged.errors![0].message).toMatch(/after/);
    const otherSort = await page({ first: 2 });
    const mismatch = await exec(PAGE, {
      key: "x",
      after: otherSort.pageInfo.endCursor,
      orderBy: { field: "NAME", direction: "ASC" },
    });
    expect(codes(mismatch)).toEqual(["BAD_USER_INPUT"]);
    expect(mismatch.errors![0].message).toMatch(/cursor was made for orderBy created_at desc/);
  });

  it("filters by method, family, dataset, backbone, status, tag, search and created range", async () => {
    const check = async (filter: Record<string, unknown>, want: (r: Run) => boolean) => {
      const p = await page({ first: 200, filter });
      const expected = newestFirst()
        .filter(want)
        .map((r) => r.id);
      expect(expected.length).toBeGreaterThan(0);
      expect(p.edges.map((e) => e.node.id)).toEqual(expected);
      expect(p.totalCount).toBe(expected.length);
      const count = await exec<{ runCount: number }>("query($f: RunFilter) { runCount(filter: $f) }", {
        f: filter,
      });
      expect(count.data!.runCount).toBe(expected.length);
    };
    await check({ method: "simclr" }, (r) => r.method === "simclr");
    await check(
      { family: "pretext", dataset: "cifar10" },
      (r) => r.family === "pretext" && r.dataset === "cifar10",
    );
    await check({ backbone: "vit-tiny" }, (r) => r.backbone === "vit-tiny");
    await check(
      { status: ["FAILED", "CANCELLED"] },
      (r) => r.status === "failed" || r.status === "cancelled",
    );
    await check({ tag: "paper" }, (r) => r.tags.includes("paper"));
    await check({ search: "CIFAR10-02" }, (r) => r.name.includes("cifar10-02"));
    await check({ search: "lr sweep" }, (r) => (r.notes ?? "").includes("lr sweep"));
    const from = demo[10].createdAt.toISOString();
    const to = demo[20].createdAt.toISOString();
    await check(
      { createdAfter: from, createdBefore: to },
      (r) => r.createdAt >= demo[10].createdAt && r.createdAt < demo[20].createdAt,
    );
  });

  it("refuses a malformed date and an unknown status", async () => {
    const bad = await exec(PAGE, { key: "x", filter: { createdAfter: "yesterday" } });
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
    expect(bad.errors![0].message).toMatch(/DateTime/);
    expect(codes(await exec(PAGE, { key: "x", filter: { status: ["DONE"] } }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("orders by name and by a summary metric, runs without it last", async () => {
    const byName = await page({ first: 200, orderBy: { field: "NAME", direction: "ASC" } });
    const names = byName.edges.map((e) => e.node.name);
    expect(names).toEqual([...names].sort());
    const byKnn = await page({
      first: 200,
      orderBy: { field: "SUMMARY", summaryKey: "knn_top1", direction: "DESC" },
    });
    const values = byKnn.edges.map((e) => e.node.summaryValue);
    const present = values.filter((v): v is number => v !== null);
    expect(present).toEqual([...present].sort((a, b) => b - a));
    expect(values.slice(present.length).every((v) => v === null)).toBe(true);
    expect(values.length - present.length).toBeGreaterThan(0); // the running runs have no knn_top1
    // Paging keeps the order across the null boundary.
    const first = await page({
      first: present.length,
      orderBy: { field: "SUMMARY", summaryKey: "knn_top1", direction: "DESC" },
    });
    const rest = await page({
      first: 200,
      after: first.pageInfo.endCursor,
      orderBy: { field: "SUMMARY", summaryKey: "knn_top1", direction: "DESC" },
    });
    expect([...first.edges, ...rest.edges].map((e) => e.node.id)).toEqual(byKnn.edges.map((e) => e.node.id));
    const missing = await exec(PAGE, { key: "x", orderBy: { field: "SUMMARY" } });
    expect(missing.errors![0].message).toMatch(/summaryKey is required/);
  });
});

describe("run detail", () => {
  it("returns the heavy fields: config, metric keys, evaluations, checkpoints, artifacts", async () => {
    const r = await exec<{
      run: {
        config: { method: { name: string } };
        metricKeys: string[];
        evaluations: Array<{ protocol: string; value: number }>;
        checkpoints: Array<{ kind: string; step: number }>;
        artifacts: Array<{
          kind: string;
          mime: string;
          url: string | null;
          dataUrl: string | null;
          points: Array<{ x: number; label: string }> | null;
        }>;
        durationSeconds: number | null;
      };
    }>(
      `query($id: ID!) { run(id: $id) {
        config metricKeys durationSeconds
        evaluations { protocol labelsPerClass seed metric value }
        checkpoints { kind step path }
        artifacts { kind mime url dataUrl points { x y label } }
      } }`,
      { id: demo[0].id },
    );
    expect(r.errors).toBeUndefined();
    const run = r.data!.run;
    expect(run.config.method.name).toBe("simclr");
    expect(run.metricKeys).toEqual(["images_per_sec", "knn_top1", "loss", "lr"]);
    expect(run.evaluations).toHaveLength(18); // 2 protocols x 3 budgets x 3 seeds
    expect(run.checkpoints.map((c) => c.kind).sort()).toEqual(["best", "latest"]);
    expect(run.durationSeconds).toBeGreaterThan(0);
    const png = run.artifacts.find((a) => a.kind === "augment-preview")!;
    expect(png.url).toBe(`/api/artifacts/${demo[0].id}/augment-preview/views.png`);
    expect(png.dataUrl).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
    expect(png.points).toBeNull();
    const pca = run.artifacts.find((a) => a.kind === "pca")!;
    expect(pca.url).toBeNull();
    expect(pca.points).toHaveLength(600);
    expect(new Set(pca.points!.map((p) => p.label)).size).toBe(10);
  });

  it("lists the files a skipBad dataset skipped (the runner's skipped-files.json), bounded by first", async () => {
    const files = Array.from({ length: 7 }, (_, i) => ({
      file: `/data/photos/bad-${i}.jpg`,
      reason: "truncated",
    }));
    await store.addArtifact({
      runId: demo[1].id,
      kind: "data",
      name: "skipped-files.json",
      mime: "application/json",
      data: [...files, { oops: 1 }, { file: "x".repeat(2000), reason: 5 }],
    });
    const q = `query($id: ID!, $first: Int) { run(id: $id) { skippedFiles(first: $first) { total files { file reason } } } }`;
    type R = {
      run: { skippedFiles: { total: number; files: Array<{ file: string; reason: string }> } | null };
    };
    const all = await exec<R>(q, { id: demo[1].id, first: 100 });
    expect(all.errors).toBeUndefined();
    const got = all.data!.run.skippedFiles!;
    expect(got.total).toBe(9);
    expect(got.files.slice(0, 7)).toEqual(files);
    // a malformed entry is left out; a long name is cut; a reason that is not text is empty
    expect(got.files).toHaveLength(8);
    expect(got.files[7]!.file.length).toBe(500);
    expect(got.files[7]!.reason).toBe("");
    const first2 = await exec<R>(q, { id: demo[1].id, first: 2 });
    expect(first2.data!.run.skippedFiles!.files.map((f) => f.file)).toEqual([files[0]!.file, files[1]!.file]);
    // none skipped: null; over the limit: refused
    const none = await exec<R>(q, { id: demo[2].id });
    expect(none.data!.run.skippedFiles).toBeNull();
    const over = await exec<R>(q, { id: demo[1].id, first: LIMITS.maxSkippedFiles + 1 });
    expect(codes(over)).toEqual(["BAD_USER_INPUT"]);
  });

  it("returns null for an unknown id and BAD_USER_INPUT for a malformed one", async () => {
    const r = await exec<{ run: null }>('{ run(id: "nope") { id } }');
    expect(r.errors).toBeUndefined();
    expect(r.data!.run).toBeNull();
    const bad = await exec('{ run(id: "bad id!") { id } }');
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
    expect(bad.errors![0].message).toMatch(/id/);
  });
});

describe("series", () => {
  const SERIES = `
  query($id: ID!, $keys: [String!]!, $maxPoints: Int, $xAxis: XAxis, $range: XRange) {
    run(id: $id) { series(keys: $keys, maxPoints: $maxPoints, xAxis: $xAxis, range: $range) {
      key total downsampled points { x y min max count }
    } }
  }`;
  type S = {
    run: {
      series: Array<{
        key: string;
        total: number;
        downsampled: boolean;
        points: Array<{ x: number; y: number; min: number; max: number; count: number }>;
      }>;
    };
  };

  it("downsamples 20,000 points to maxPoints buckets and keeps the global max and min", async () => {
    for (const xAxis of ["STEP", "WALL_TIME", "RELATIVE_TIME"]) {
      const r = await exec<S>(SERIES, { id: spike.id, keys: ["loss"], maxPoints: 100, xAxis });
      expect(r.errors).toBeUndefined();
      const s = r.data!.run.series[0];
      expect(s.total).toBe(N_POINTS);
      expect(s.downsampled).toBe(true);
      expect(s.points.length).toBeLessThanOrEqual(100);
      expect(s.points.reduce((n, p) => n + p.count, 0)).toBe(N_POINTS);
      expect(Math.max(...s.points.map((p) => p.max))).toBe(1000);
      expect(Math.min(...s.points.map((p) => p.min))).toBe(-500);
      // The means hide the spike; the band does not.
      expect(Math.max(...s.points.map((p) => p.y))).toBeLessThan(1000);
    }
  });

  it("returns raw points under the cap and honours an x range", async () => {
    const r = await exec<S>(SERIES, {
      id: spike.id,
      keys: ["loss"],
      maxPoints: 1000,
      range: { from: 12_000, to: 12_500 },
    });
    const s = r.data!.run.series[0];
    expect(s.total).toBe(501);
    expect(s.downsampled).toBe(false);
    expect(s.points).toHaveLength(501);
    expect(s.points.find((p) => p.x === SPIKE_STEP)!.y).toBe(1000);
    expect(s.points.every((p) => p.count === 1 && p.min === p.y && p.max === p.y)).toBe(true);
  });

  it("gives min, max and last per metric for table columns", async () => {
    const r = await exec<{
      run: {
        metricStats: Array<{
          key: string;
          min: number;
          max: number;
          last: number;
          lastStep: number;
          count: number;
        }>;
      };
    }>(
      `query($id: ID!) { run(id: $id) { metricStats(keys: ["loss", "absent"]) { key min max last lastStep count } } }`,
      { id: spike.id },
    );
    const [loss, absent] = r.data!.run.metricStats;
    expect(loss).toMatchObject({
      key: "loss",
      min: -500,
      max: 1000,
      lastStep: N_POINTS - 1,
      count: N_POINTS,
    });
    expect(loss.last).toBeCloseTo(Math.sin((N_POINTS - 1) / 300) + 0.01 * ((N_POINTS - 1) % 7));
    expect(absent).toMatchObject({ key: "absent", min: null, max: null, last: null, count: 0 });
  });

  it("refuses maxPoints over the cap, too many keys, and a bad key", async () => {
    const over = await exec(SERIES, { id: spike.id, keys: ["loss"], maxPoints: 100_000 });
    expect(codes(over)).toEqual(["BAD_USER_INPUT"]);
    expect(over.errors![0].message).toMatch(/maxPoints must be an integer from 2 to 5000 \(got 100000\)/);
    const keys = Array.from({ length: 21 }, (_, i) => `k${i}`);
    expect((await exec(SERIES, { id: spike.id, keys, maxPoints: 10 })).errors![0].message).toMatch(
      /at most 20 keys/,
    );
    const bad = await exec(SERIES, { id: spike.id, keys: ["no spaces"], maxPoints: 10 });
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("query limits", () => {
  it("refuses a query nested too deep before running it", async () => {
    let q = "id";
    for (let i = 0; i < 11; i++) q = `parent { ${q} }`;
    const r = await exec(`{ run(id: "spike-run") { ${q} } }`);
    expect(codes(r)).toEqual(["QUERY_TOO_DEEP"]);
    expect(r.errors![0].message).toMatch(/nested 13 levels deep; the limit is 10/);
  });

  it("refuses deep introspection but allows the usual introspection query", async () => {
    let t = "name";
    for (let i = 0; i < 16; i++) t = `ofType { ${t} }`;
    const deep = await exec(`{ __schema { types { fields { type { ${t} } } } } }`);
    expect(codes(deep)).toEqual(["QUERY_TOO_DEEP"]);
    const { getIntrospectionQuery } = await import("graphql");
    const ok = await exec(getIntrospectionQuery());
    expect(ok.errors).toBeUndefined();
  });

  it("refuses a query whose cost (runs x keys x points) is too high, before touching the store", async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `"k${i}"`).join(",");
    const q = countQueries(store);
    const r = await exec(
      `{ runs(first: 200) { edges { node { series(keys: [${keys}], maxPoints: 5000) { points { x y } } } } } }`,
    );
    q.restore();
    expect(codes(r)).toEqual(["QUERY_TOO_COSTLY"]);
    expect(r.errors![0].message).toMatch(/would cost \d+ .* the limit is 200000/);
    expect(q.count()).toBe(0);
    // Variables count too.
    const v = await exec(
      'query($n: Int) { runs(first: $n) { edges { node { series(keys: ["loss"], maxPoints: 5000) { points { x } } } } } }',
      { n: 100 },
    );
    expect(codes(v)).toEqual(["QUERY_TOO_COSTLY"]);
    // The pages' own queries fit.
    const fine = await exec(
      `{ run(id: "spike-run") { series(keys: [${keys}], maxPoints: 5000) { points { x y min max count } } } }`,
    );
    expect(codes(fine)).not.toContain("QUERY_TOO_COSTLY");
  });
});

describe("batching (DataLoader)", () => {
  it("answers a page of runs with their evaluations, keys and stats in a constant number of statements", async () => {
    const sql = async (first: number) => {
      const q = countQueries(store);
      const r = await exec(
        `query($n: Int) { runs(first: $n) { edges { node { id evaluations { value } metricKeys checkpoints { step }
          metricStats(keys: ["loss", "lr"]) { last } parent { id } } } } }`,
        { n: first },
      );
      q.restore();
      expect(r.errors).toBeUndefined();
      return q.count();
    };
    const few = await sql(3);
    const many = await sql(40);
    expect(many).toBe(few);
    expect(many).toBeLessThanOrEqual(5);
  });

  it("reads no config for a runs page that does not ask for it, and one batch when it does", async () => {
    const statements: string[] = [];
    const db = store.db as { query: (...args: unknown[]) => Promise<unknown> };
    const original = db.query;
    db.query = function (this: unknown, ...args: unknown[]) {
      statements.push(String(args[0]));
      return original.apply(this, args);
    };
    try {
      const lean = await exec(`{ runs(first: 20) { edges { node { id name summary } } } }`);
      expect(lean.errors).toBeUndefined();
      expect(statements).toHaveLength(1);
      expect(statements[0]).not.toMatch(/\bconfig\b/);
      statements.length = 0;
      const full = await exec<{ runs: { edges: Array<{ node: { id: string; config: unknown } }> } }>(
        `{ runs(first: 20) { edges { node { id config } } } }`,
      );
      expect(full.errors).toBeUndefined();
      expect(statements).toHaveLength(2); // the page, then every config in one statement
      for (const { node } of full.data!.runs.edges)
        expect(node.config).toEqual((await store.getRun(node.id))!.config);
      expect(full.data!.runs.edges.some(({ node }) => Object.keys(node.config as object).length > 0)).toBe(
        true,
      );
    } finally {
      db.query = original;
    }
  });

  it("resolves leaderboard runs in one batch", async () => {
    const q = countQueries(store);
    const r = await exec<{ leaderboard: Array<{ run: { id: string } }> }>(
      `{ leaderboard(dataset: "cifar10", protocol: "knn", labelsPerClass: 10) { method run { id name evaluations { value } } } }`,
    );
    q.restore();
    expect(r.errors).toBeUndefined();
    expect(r.data!.leaderboard.length).toBeGreaterThan(3);
    expect(q.count()).toBe(3); // leaderboard, runs by id, evaluations by run id
  });
});

describe("compare and leaderboard", () => {
  it("compares runs: series per run and key, and a config diff of only what differs", async () => {
    const [a, b] = [demo[0], demo[1]];
    const r = await exec<{
      compare: {
        runs: Array<{ id: string }>;
        keys: string[];
        series: Array<{ runId: string; series: { key: string; points: unknown[] } }>;
        configDiff: Array<{ path: string; values: unknown[] }>;
      };
    }>(
      `query($ids: [ID!]!) { compare(ids: $ids, maxPoints: 50) { runs { id } keys series { runId series { key points { x y } } } configDiff { path values } } }`,
      {
        ids: [a.id, b.id],
      },
    );
    expect(r.errors).toBeUndefined();
    const c = r.data!.compare;
    expect(c.runs.map((x) => x.id)).toEqual([a.id, b.id]);
    expect(c.keys).toEqual(["images_per_sec", "knn_top1", "loss", "lr"]);
    expect(c.series).toHaveLength(8);
    expect(c.series.every((s) => s.series.points.length > 0 && s.series.points.length <= 50)).toBe(true);
    const paths = c.configDiff.map((d) => d.path);
    expect(paths).toContain("method.name");
    expect(paths).toContain("seed");
    expect(paths).not.toContain("dataset.split");
    expect(paths).not.toContain("optimizer.weightDecay");
    expect(c.configDiff.find((d) => d.path === "method.name")!.values).toEqual(["simclr", "moco"]);
    // A key only one run has: the other gets an empty series, not an error.
    expect(c.configDiff.find((d) => d.path === "method.options.temperature")!.values).toEqual([0.5, 0.2]);
    expect(c.configDiff.find((d) => d.path === "method.options.queueSize")!.values).toEqual([null, 4096]);
  });

  it("compares runs without metrics: no keys, no series, still a diff", async () => {
    const r = await exec<{ compare: { keys: string[]; series: unknown[]; configDiff: unknown[] } }>(
      "query($ids: [ID!]!) { compare(ids: $ids) { keys series { runId } configDiff { path } } }",
      { ids: [demo[10].id, demo[11].id] },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.compare.keys).toEqual([]);
    expect(r.data!.compare.series).toEqual([]);
    expect(r.data!.compare.configDiff.length).toBeGreaterThan(0);
  });

  it("refuses too many runs or an unknown one", async () => {
    const ids = Array.from({ length: 11 }, (_, i) => demo[i].id);
    expect(
      (await exec("query($ids: [ID!]!) { compare(ids: $ids) { keys } }", { ids })).errors![0].message,
    ).toMatch(/at most 10 runs/);
    const unknown = await exec("query($ids: [ID!]!) { compare(ids: $ids) { keys } }", {
      ids: [demo[0].id, "ghost"],
    });
    expect(codes(unknown)).toEqual(["NOT_FOUND"]);
    expect(unknown.errors![0].message).toMatch(/ghost/);
  });

  it("ranks the best run per method, per label budget", async () => {
    const r = await exec<{
      leaderboard: Array<{
        rank: number;
        method: string;
        value: number;
        labelsPerClass: number | null;
        seeds: number;
      }>;
    }>(
      `{ leaderboard(dataset: "mnist", protocol: "linear", metric: "top1") { rank method value labelsPerClass seeds } }`,
    );
    const entries = r.data!.leaderboard;
    const budgets = [...new Set(entries.map((e) => e.labelsPerClass))];
    expect(budgets).toEqual([10, 100, null]);
    for (const b of budgets) {
      const group = entries.filter((e) => e.labelsPerClass === b);
      expect(group.map((e) => e.rank)).toEqual(group.map((_, i) => i + 1));
      expect(new Set(group.map((e) => e.method)).size).toBe(group.length);
      expect(group.map((e) => e.value)).toEqual([...group.map((e) => e.value)].sort((x, y) => y - x));
    }
    const scopes = await exec<{
      leaderboardScopes: Array<{ dataset: string; protocol: string; labelsPerClass: Array<number | null> }>;
    }>("{ leaderboardScopes { dataset protocol metric labelsPerClass runs } }");
    expect(scopes.data!.leaderboardScopes.map((s) => `${s.dataset}/${s.protocol}`)).toEqual([
      "cifar10/knn",
      "cifar10/linear",
      "mnist/knn",
      "mnist/linear",
    ]);
    expect(scopes.data!.leaderboardScopes[0].labelsPerClass).toEqual([10, 100, null]);
  });

  it("lists facets for the filter chips", async () => {
    const r = await exec<{
      facets: {
        methods: Array<{ value: string; count: number }>;
        statuses: Array<{ value: string }>;
        summaryKeys: string[];
        metricKeys: string[];
      };
    }>("{ facets { methods { value count } statuses { value count } summaryKeys metricKeys } }");
    const f = r.data!.facets;
    expect(f.methods.reduce((n, m) => n + m.count, 0)).toBe(41);
    expect(f.statuses.map((s) => s.value)).toContain("running");
    expect(f.summaryKeys).toEqual(["images_per_sec", "knn_top1", "loss"]);
    expect(f.metricKeys).toEqual(["images_per_sec", "knn_top1", "loss", "lr"]);
  });
});

describe("mutations and roles", () => {
  const TAG = `mutation($id: ID!, $add: [String!], $remove: [String!]) { tagRun(id: $id, add: $add, remove: $remove) { id tags } }`;

  it("refuses mutations without the team token, and says how to get it", async () => {
    const anon = await exec(TAG, { id: demo[3].id, add: ["x"] }, { role: "anonymous" });
    expect(codes(anon)).toEqual(["UNAUTHENTICATED"]);
    expect(anon.errors![0].message).toMatch(/Authorization: Bearer <SELFSUP_TOKEN>/);
    const read = await exec(TAG, { id: demo[3].id, add: ["x"] }, { role: "read" });
    expect(codes(read)).toEqual(["FORBIDDEN"]);
    expect(read.errors![0].message).toMatch(/read-only token/);
    const noToken = await exec(
      TAG,
      { id: demo[3].id, add: ["x"] },
      { role: "anonymous", auth: { teamToken: null } },
    );
    expect(noToken.errors![0].message).toMatch(/start the dashboard with SELFSUP_TOKEN/);
    expect((await store.getRun(demo[3].id))!.tags).not.toContain("x");
  });

  it("tags and notes a run with the team token", async () => {
    const added = await exec<{ tagRun: { tags: string[] } }>(
      TAG,
      { id: demo[3].id, add: ["best", "keep"] },
      { role: "write" },
    );
    expect(added.errors).toBeUndefined();
    expect(added.data!.tagRun.tags).toEqual([...demo[3].tags, "best", "keep"]);
    const removed = await exec<{ tagRun: { tags: string[] } }>(
      TAG,
      { id: demo[3].id, remove: ["keep"] },
      { role: "write" },
    );
    expect(removed.data!.tagRun.tags).toEqual([...demo[3].tags, "best"]);
    const NOTE = "mutation($id: ID!, $note: String) { setNote(id: $id, note: $note) { notes } }";
    expect(
      (
        await exec<{ setNote: { notes: string } }>(
          NOTE,
          { id: demo[3].id, note: "good one" },
          { role: "write" },
        )
      ).data!.setNote.notes,
    ).toBe("good one");
    expect(
      (await exec<{ setNote: { notes: null } }>(NOTE, { id: demo[3].id, note: null }, { role: "write" }))
        .data!.setNote.notes,
    ).toBeNull();
    const empty = await exec(TAG, { id: demo[3].id, add: [" "] }, { role: "write" });
    expect(codes(empty)).toEqual(["BAD_USER_INPUT"]);
    const ghost = await exec(TAG, { id: "ghost", add: ["a"] }, { role: "write" });
    expect(codes(ghost)).toEqual(["NOT_FOUND"]);
  });

  it("cancels and submits through the runner's control client", async () => {
    const cancel = vi.fn(async (id: string) => {
      await store.cancelRun(id);
    });
    const submit = vi.fn(async () => ({ id: demo[5].id }));
    const control = async (): Promise<ControlClient> => ({ cancel, submit });
    const c = await exec<{ cancelRun: { status: string } }>(
      'mutation { cancelRun(id: "spike-run") { id status } }',
      {},
      { role: "write", control },
    );
    expect(c.errors).toBeUndefined();
    expect(cancel).toHaveBeenCalledWith("spike-run");
    expect(c.data!.cancelRun.status).toBe("CANCELLED");
    const again = await exec(
      'mutation { cancelRun(id: "spike-run") { id } }',
      {},
      { role: "write", control },
    );
    expect(codes(again)).toEqual(["CONFLICT"]);
    const s = await exec<{ submitRun: { id: string; run: { name: string } } }>(
      'mutation($c: JSON!) { submitRun(input: { config: $c, tags: ["ui"] }) { id run { name } } }',
      { c: { method: "simclr", dataset: "mnist" } },
      { role: "write", control },
    );
    expect(submit).toHaveBeenCalledWith({ config: { method: "simclr", dataset: "mnist" }, tags: ["ui"] });
    expect(s.data!.submitRun).toEqual({ id: demo[5].id, run: { name: demo[5].name } });
    const notObject = await exec(
      "mutation { submitRun(input: { config: [1, 2] }) { id } }",
      {},
      { role: "write", control },
    );
    expect(notObject.errors![0].message).toMatch(/input.config must be a JSON object/);
  });

  it("says clearly when the runner is not reachable", async () => {
    const running = await store.createRun({ method: "byol", status: "running" });
    const down = async (): Promise<ControlClient> => {
      throw runnerUnavailable(
        "http://127.0.0.1:9",
        Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }),
      );
    };
    const r = await exec(
      "mutation($id: ID!) { cancelRun(id: $id) { id } }",
      { id: running.id },
      { role: "write", control: down },
    );
    expect(codes(r)).toEqual(["RUNNER_UNAVAILABLE"]);
    expect(r.errors![0].message).toMatch(
      /control API at http:\/\/127.0.0.1:9 is not reachable .*selfsup serve/,
    );
    // The real client, pointed at a closed port.
    const real = await exec(
      "mutation($id: ID!) { cancelRun(id: $id) { id } }",
      { id: running.id },
      {
        role: "write",
        control: () => runnerControlClient({ SELFSUP_CONTROL_URL: "http://127.0.0.1:9" }),
      },
    );
    expect(codes(real)).toEqual(["RUNNER_UNAVAILABLE"]);
    expect((await store.getRun(running.id))!.status).toBe("running");
  });

  it("cancels through the runner's real tRPC control API, and reports its refusals", async () => {
    const { startControlServer } = await import("@selfsup/runner");
    const { createRegistry } = await import("@selfsup/core");
    const token = "control-token-0123456789abcdef";
    const control = await startControlServer({ store, registry: createRegistry(), port: 0, token });
    try {
      const queued = await store.createRun({ method: "simclr", dataset: "mnist" });
      const env = { SELFSUP_CONTROL_URL: control.url, SELFSUP_TOKEN: token };
      const r = await exec<{ cancelRun: { id: string; status: string } }>(
        "mutation($id: ID!) { cancelRun(id: $id) { id status } }",
        { id: queued.id },
        { role: "write", control: () => runnerControlClient(env) },
      );
      expect(r.errors).toBeUndefined();
      expect(r.data!.cancelRun).toEqual({ id: queued.id, status: "CANCELLED" });
      // This runner has no queue (embedded store): it says so, and we pass that on.
      const s = await exec(
        'mutation { submitRun(input: { config: { method: { name: "simclr" }, dataset: { name: "mnist" } } }) { id } }',
        {},
        {
          role: "write",
          control: () => runnerControlClient(env),
        },
      );
      expect(codes(s)).toEqual(["RUNNER_PRECONDITION_FAILED"]);
      expect(s.errors![0].message).toMatch(/no queue/);
      const again = await store.createRun({ method: "simclr", status: "running" });
      const wrongToken = await exec(
        "mutation($id: ID!) { cancelRun(id: $id) { id } }",
        { id: again.id },
        {
          role: "write",
          control: () => runnerControlClient({ ...env, SELFSUP_TOKEN: "wrong-token-0123456789" }),
        },
      );
      expect(codes(wrongToken)).toEqual(["RUNNER_UNAUTHORIZED"]);
      expect(wrongToken.errors![0].message).toMatch(/SELFSUP_CONTROL_TOKEN/);
    } finally {
      await control.close();
    }
  });

  it("reports the viewer's role", async () => {
    const q = "{ viewer { role canMutate loginRequired } }";
    expect((await exec(q, {}, { role: "write" })).data).toEqual({
      viewer: { role: "WRITE", canMutate: true, loginRequired: false },
    });
    expect((await exec(q, {}, { role: "read", auth: { loginRequired: true } })).data).toEqual({
      viewer: { role: "READ", canMutate: false, loginRequired: true },
    });
    expect((await exec(q, {}, { role: "anonymous" })).data).toEqual({
      viewer: { role: "ANONYMOUS", canMutate: false, loginRequired: false },
    });
  });
});

describe("methods catalogue", () => {
  it("serves the installed methods with their option schemas", async () => {
    const catalogue = async () => ({
      methods: [
        {
          name: "simclr",
          family: "contrastive",
          description: "d",
          plugin: "p",
          paper: null,
          inputs: ["image"],
          optionsSchema: { type: "object" },
        },
      ],
      plugins: [
        {
          name: "p",
          version: "1.0.0",
          contributions: [{ kind: "method", name: "simclr", description: "d", optionsSchema: null }],
        },
      ],
      failures: [{ packageName: "broken", error: "boom" }],
    });
    const r = await exec(
      "{ methods { name family inputs optionsSchema } plugins { plugins { name contributions { kind name } } failures { packageName error } } }",
      {},
      { catalogue },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({
      methods: [
        { name: "simclr", family: "contrastive", inputs: ["image"], optionsSchema: { type: "object" } },
      ],
      plugins: {
        plugins: [{ name: "p", contributions: [{ kind: "method", name: "simclr" }] }],
        failures: [{ packageName: "broken", error: "boom" }],
      },
    });
  });
});
