/**
 * The control API over real HTTP on 127.0.0.1 with the real typed client: auth, zod refusals,
 * list/get/cancel, the progress subscription (SSE); and, on PostgreSQL, submit -> a worker trains
 * it -> progress to the end, and cancel of a running run.
 */
import path from "node:path";
import type { Registry } from "@selfsup/core";
import { openStore, type RunStore } from "@selfsup/store";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlClient, createControlClient, type ProgressUpdate } from "../src/client.js";
import type { RunConfigInput } from "../src/config.js";
import { loadRegistry } from "../src/plugins.js";
import { RunQueue } from "../src/queue.js";
import { startWorker } from "../src/run/worker.js";
import { type ControlServer, checkBind, sameToken, startControlServer } from "../src/trpc/server.js";
import { cliEnv, runCli, tempHome } from "./helpers.js";
import { createTestDatabase, TEST_DATABASE_URL, warnSkipped } from "./pg.js";

const TOKEN = "test-token-0123456789abcdef";

async function codeOf(
  p: Promise<unknown>,
): Promise<{ code: string | undefined; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TRPCClientError);
    const e = err as Error & { data?: { code?: string; httpStatus?: number } };
    return { code: e.data?.code, status: e.data?.httpStatus, message: e.message };
  }
  throw new Error("expected the call to be refused");
}

/** Collects subscription updates until `done` (or an error). */
function collect(
  client: ControlClient,
  id: string,
  onUpdate?: (u: ProgressUpdate) => void,
): Promise<ProgressUpdate[]> {
  return new Promise((resolve, reject) => {
    const seen: ProgressUpdate[] = [];
    const sub = client.progress.subscribe(
      { id, intervalMs: 200 },
      {
        onData(u) {
          seen.push(u);
          onUpdate?.(u);
          if (u.done) {
            sub.unsubscribe();
            resolve(seen);
          }
        },
        onError(err) {
          sub.unsubscribe();
          reject(err);
        },
      },
    );
  });
}

const tinyRun = (trainSize: number, epochs: number, name: string): RunConfigInput => ({
  name,
  method: { name: "simclr", options: { projectorHiddenDim: 16, projectorOutputDim: 8 } },
  backbone: { name: "convnet", options: { width: 4, strides: [2] } },
  dataset: { name: "synthetic", options: { size: 8, trainSize, testSize: 32 } },
  training: { epochs, batchSize: 16 },
  backend: "cpu",
});

describe("control API on an embedded store (no queue)", () => {
  let store: RunStore;
  let registry: Registry;
  let server: ControlServer;
  let client: ControlClient;

  beforeAll(async () => {
    const home = await tempHome();
    store = await openStore({ dataDir: path.join(home, "db") });
    registry = (await loadRegistry()).registry;
    server = await startControlServer({ store, registry, port: 0, token: TOKEN });
    client = createControlClient({ url: server.url, token: TOKEN });
  });

  afterAll(async () => {
    await server?.close();
    await store?.close();
  });

  it("binds to 127.0.0.1 and refuses calls without the right token (401)", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/trpc$/);
    for (const c of [
      createControlClient({ url: server.url }),
      createControlClient({ url: server.url, token: `${TOKEN}x` }),
    ]) {
      const r = await codeOf(c.list.query());
      expect(r).toMatchObject({ code: "UNAUTHORIZED", status: 401 });
    }
    const raw = await fetch(`${server.url}/list`);
    expect(raw.status).toBe(401);
    await expect(client.list.query()).resolves.toMatchObject({ runs: [] });
  });

  it("error replies carry no stack trace or server paths (NODE_ENV is not development)", async () => {
    for (const [url, headers] of [
      [`${server.url}/list`, { authorization: "Bearer wrong-token-wrong-token" }],
      [
        `${server.url}/get?input=${encodeURIComponent(JSON.stringify({ id: "bad id!" }))}`,
        { authorization: `Bearer ${TOKEN}` },
      ],
      [`${server.url}/no.such.procedure`, { authorization: `Bearer ${TOKEN}` }],
    ] as const) {
      const res = await fetch(url, { headers });
      expect(res.status).toBeGreaterThanOrEqual(400);
      const text = await res.text();
      const body = JSON.parse(text) as { error?: { data?: Record<string, unknown> } };
      expect(body.error?.data).toBeDefined();
      expect(body.error?.data).not.toHaveProperty("stack");
      expect(text).not.toContain(process.cwd());
      expect(text).not.toMatch(/\bat .*\.(js|ts):\d+/);
    }
  });

  it("compares tokens in constant time whatever their length", () => {
    expect(sameToken(TOKEN, TOKEN)).toBe(true);
    expect(sameToken(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(sameToken("", TOKEN)).toBe(false);
    expect(sameToken("x".repeat(100_000), TOKEN)).toBe(false);
  });

  it("refuses a subscription without the token", async () => {
    const anon = createControlClient({ url: server.url });
    await expect(collect(anon, "whatever")).rejects.toBeInstanceOf(TRPCClientError);
  });

  it("refuses bad input with BAD_REQUEST naming the field", async () => {
    const first = await codeOf(client.list.query({ first: 1000 }));
    expect(first).toMatchObject({ code: "BAD_REQUEST", status: 400 });
    expect(first.message).toContain("first");
    const id = await codeOf(client.get.query({ id: "not an id!" }));
    expect(id.code).toBe("BAD_REQUEST");
    const bad = await codeOf(
      client.submit.mutate({
        config: { method: { name: "simclr" }, dataset: { name: "synthetic" }, training: { epochs: 0 } },
      }),
    );
    expect(bad.code).toBe("BAD_REQUEST");
    expect(bad.message).toContain("training");
    expect(bad.message).toContain("epochs");
  });

  it("refuses submit with a clear reason when there is no queue", async () => {
    const r = await codeOf(
      client.submit.mutate({ config: { method: { name: "simclr" }, dataset: { name: "synthetic" } } }),
    );
    expect(r.code).toBe("PRECONDITION_FAILED");
    expect(r.message).toContain("DATABASE_URL=postgres://");
  });

  it("lists, gets and cancels runs", async () => {
    const a = await store.createRun({ method: "simclr", dataset: "synthetic", name: "api-a", tags: ["api"] });
    const b = await store.createRun({ method: "byol", dataset: "mnist", name: "api-b", status: "running" });
    const page = await client.list.query({ tag: "api" });
    expect(page.runs.map((r) => r.id)).toEqual([a.id]);
    const all = await client.list.query({ first: 10 });
    expect(all.runs.map((r) => r.id)).toEqual([b.id, a.id]);
    expect(typeof all.runs[0]?.createdAt).toBe("string");

    const detail = await client.get.query({ id: b.id });
    expect(detail.run).toMatchObject({ id: b.id, name: "api-b", status: "running" });
    expect(detail).toMatchObject({ evaluations: [], checkpoints: [], lastStep: null, metricKeys: [] });
    expect(await codeOf(client.get.query({ id: "NOSUCHRUN" }))).toMatchObject({
      code: "NOT_FOUND",
      status: 404,
    });

    const cancelled = await client.cancel.mutate({ id: b.id });
    expect(cancelled.status).toBe("cancelled");
    expect((await store.getRun(b.id))?.status).toBe("cancelled");
    // the running process learns it at its next heartbeat
    expect(await store.heartbeat(b.id)).toBe("cancelled");
  });

  it("streams progress updates until the run ends", async () => {
    const run = await store.createRun({
      method: "simclr",
      dataset: "synthetic",
      name: "api-progress",
      status: "running",
    });
    const updates = collect(client, run.id);
    for (let step = 1; step <= 3; step++) {
      await store.appendMetrics(run.id, [
        { key: "loss", step, value: 5 - step },
        { key: "lr", step, value: 0.1 },
      ]);
      await new Promise((r) => setTimeout(r, 350));
    }
    await store.finishRun(run.id, { status: "finished", summary: { loss: 2 } });
    const seen = await updates;
    expect(seen.at(-1)).toMatchObject({ status: "finished", step: 3, done: true, summary: { loss: 2 } });
    expect(seen.at(-1)?.metrics).toMatchObject({ loss: 2, lr: 0.1 });
    const steps = seen.map((u) => u.step);
    expect(steps).toContain(3);
    expect(steps.filter((s) => s !== null)).toEqual(
      [...steps.filter((s) => s !== null)].sort((x, y) => Number(x) - Number(y)),
    );
  });

  it("refuses to bind off loopback without a token (and `selfsup serve` exits 2)", async () => {
    expect(() => checkBind("0.0.0.0", undefined)).toThrow(
      /refusing to serve on 0\.0\.0\.0 without a token.*SELFSUP_TOKEN/,
    );
    expect(() => checkBind("0.0.0.0", TOKEN)).not.toThrow();
    expect(() => checkBind("127.0.0.1", undefined)).not.toThrow();
    const r = await runCli(
      ["serve", "--host", "0.0.0.0", "--port", "0"],
      cliEnv(await tempHome(), { SELFSUP_TOKEN: undefined }),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refusing to serve on 0.0.0.0 without a token");
  });
});

warnSkipped("the control API tests with a queue and a worker");

describe.skipIf(!TEST_DATABASE_URL)("control API with pg-boss and an in-process worker", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: RunStore;
  let queue: RunQueue;
  let server: ControlServer;
  let client: ControlClient;
  const stopWorker = new AbortController();
  let workerDone: Promise<unknown> | undefined;

  beforeAll(async () => {
    process.env.SELFSUP_HOME = await tempHome();
    process.env.SELFSUP_BACKEND = "cpu";
    process.env.SELFSUP_HEARTBEAT_MS = "300";
    db = await createTestDatabase();
    store = await openStore({ url: db.url, poolSize: 4 });
    queue = await RunQueue.open({ url: db.url, max: 3 });
    const { registry } = await loadRegistry();
    server = await startControlServer({ store, registry, queue, port: 0 });
    client = createControlClient({ url: server.url });
    const worker = await startWorker({
      store,
      queue,
      registry,
      signal: stopWorker.signal,
      pollingIntervalSeconds: 0.5,
    });
    workerDone = worker.done;
  });

  afterAll(async () => {
    stopWorker.abort();
    await workerDone;
    await server?.close();
    await queue?.stop(1000).catch(() => {});
    await store?.close();
    await db?.drop();
  });

  it("round trip: submit -> list -> progress to the end -> get", async () => {
    const run = await client.submit.mutate({
      config: tinyRun(64, 1, "api-submitted"),
      notes: "from the API",
    });
    expect(run).toMatchObject({
      name: "api-submitted",
      status: "queued",
      method: "simclr",
      notes: "from the API",
    });
    const listed = await client.list.query({ search: "api-submitted" });
    expect(listed.runs.map((r) => r.id)).toEqual([run.id]);

    const seen = await collect(client, run.id);
    const last = seen.at(-1);
    expect(last).toMatchObject({ status: "finished", step: 4, done: true });
    expect(last?.metrics.loss).toBeGreaterThan(0);
    expect(seen.some((u) => u.status === "running")).toBe(true);

    const detail = await client.get.query({ id: run.id });
    expect(detail.run.status).toBe("finished");
    expect(detail.lastStep).toBe(4);
    expect(detail.evaluations.map((e) => e.protocol)).toContain("knn");
    expect(detail.checkpoints.length).toBeGreaterThan(0);
  });

  it("cancel: a running run stops at its next step as cancelled", async () => {
    const run = await client.submit.mutate({ config: tinyRun(512, 3, "api-cancelled") });
    let cancelled = false;
    const seen = await collect(client, run.id, (u) => {
      if (!cancelled && u.status === "running" && (u.step ?? 0) >= 2) {
        cancelled = true;
        void client.cancel.mutate({ id: run.id });
      }
    });
    const last = seen.at(-1);
    expect(last?.status).toBe("cancelled");
    // the trainer stopped soon after the cancel: far from its 96 steps, and it writes no more
    await new Promise((r) => setTimeout(r, 1500));
    const stepAfter = await store.lastMetricStep(run.id);
    expect(stepAfter).toBeLessThan(96);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await store.lastMetricStep(run.id)).toBe(stepAfter);
    expect((await store.getRun(run.id))?.status).toBe("cancelled");
  });

  it("rejects an unknown method with the installed ones", async () => {
    const r = await codeOf(
      client.submit.mutate({ config: { method: { name: "simclrr" }, dataset: { name: "synthetic" } } }),
    );
    expect(r.code).toBe("BAD_REQUEST");
    expect(r.message).toMatch(/unknown method "simclrr"; installed methods: .*simclr/);
  });
});
