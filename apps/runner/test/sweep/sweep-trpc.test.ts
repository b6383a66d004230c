/**
 * The control API starts and stops sweeps (PostgreSQL: a sweep's runs go to the pg-boss queue).
 * No worker runs here: the test checks what is stored and queued, and that stop cancels it; the
 * training path on workers is in the fault suite (tests/faults/test/sweep.test.ts). Also: an embedded store refuses sweepStart, a bad sweep
 * is BAD_REQUEST naming the field, a taken name is CONFLICT.
 */
import path from "node:path";
import type { Registry } from "@selfsup/core";
import { openStore, type RunStore, SweepStore } from "@selfsup/store";
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControlClient, createControlClient } from "../../src/client.js";
import { loadRegistry } from "../../src/plugins.js";
import { RunQueue } from "../../src/queue.js";
import { stopBackgroundSweeps } from "../../src/sweep/control.js";
import { type ControlServer, startControlServer } from "../../src/trpc/server.js";
import { tempHome } from "../helpers.js";
import { createTestDatabase, TEST_DATABASE_URL } from "../pg.js";

const TOKEN = "test-token-0123456789abcdef";

const sweepObject = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  run: {
    method: { name: "simclr", options: { projectorHiddenDim: 16, projectorOutputDim: 8 } },
    backbone: { name: "convnet", options: { width: 4, strides: [2] } },
    dataset: { name: "synthetic", options: { size: 8, trainSize: 64, testSize: 32 } },
    training: { epochs: 2, batchSize: 16 },
    backend: "cpu",
  },
  search: "random",
  metric: { name: "knn_top1", goal: "maximize" },
  parameters: { "training.optimizer.lr": { log_uniform: [0.0001, 0.01] } },
  seeds: 2,
  budget: { trials: 3, max_concurrent: 4 },
  ...extra,
});

async function refusal(p: Promise<unknown>): Promise<{ code: string | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TRPCClientError);
    const e = err as Error & { data?: { code?: string } };
    return { code: e.data?.code, message: e.message };
  }
  throw new Error("expected a refusal");
}

describe("sweepStart on an embedded store", () => {
  it("is refused: sweeps started by the server run on workers", async () => {
    const home = await tempHome();
    const store = await openStore({ dataDir: path.join(home, "db") });
    const { registry } = await loadRegistry();
    const server = await startControlServer({ store, registry, port: 0, token: TOKEN });
    try {
      const client = createControlClient({ url: server.url, token: TOKEN });
      expect(await refusal(client.sweepStart.mutate({ sweep: sweepObject("embedded") }))).toMatchObject({
        code: "PRECONDITION_FAILED",
      });
    } finally {
      await server.close();
      await store.close();
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)("sweepStart / sweepStop on PostgreSQL", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: RunStore;
  let queue: RunQueue;
  let registry: Registry;
  let server: ControlServer;
  let client: ControlClient;

  beforeAll(async () => {
    db = await createTestDatabase("selfsup_sweep_trpc");
    store = await openStore({ url: db.url, poolSize: 4 });
    queue = await RunQueue.open({ url: db.url, max: 2 });
    registry = (await loadRegistry()).registry;
    server = await startControlServer({ store, registry, queue, port: 0, token: TOKEN });
    client = createControlClient({ url: server.url, token: TOKEN });
  });

  afterAll(async () => {
    stopBackgroundSweeps();
    await server?.close();
    await queue?.stop(1000).catch(() => {});
    await store?.close();
    await db?.drop();
  });

  it("starts a sweep whose runs are queued, refuses bad and duplicate ones, and stops it", async () => {
    const bad = await refusal(
      client.sweepStart.mutate({
        sweep: sweepObject("bad", { parameters: { "training.optimizer.lrr": { uniform: [0.1, 0.01] } } }),
      }),
    );
    expect(bad.code).toBe("BAD_REQUEST");
    expect(bad.message).toMatch(/parameters\.training\.optimizer\.lrr\.uniform: low must be below high/);

    const started = await client.sweepStart.mutate({ sweep: sweepObject("api-sweep") });
    expect(started).toMatchObject({ name: "api-sweep", status: "running" });
    const dup = await refusal(client.sweepStart.mutate({ sweep: sweepObject("api-sweep") }));
    expect(dup.code).toBe("CONFLICT");

    const sweeps = new SweepStore(store.db);
    // the server's coordinator samples 2 trials (4 runs = max_concurrent) and queues their runs
    await expect.poll(async () => (await sweeps.sweepRuns(started.id)).length, { timeout: 90_000 }).toBe(4);
    const runs = await sweeps.sweepRuns(started.id);
    for (const r of runs) {
      expect(r.status).toBe("queued");
      expect((await queue.job(r.runId))?.state).toBe("created");
    }

    const stopped = await client.sweepStop.mutate({ id: "api-sweep" });
    expect(stopped).toMatchObject({ status: "stopped", cancelled: 4 });
    for (const r of await sweeps.sweepRuns(started.id)) expect(r.status).toBe("cancelled");
    expect((await sweeps.getSweep(started.id))?.status).toBe("stopped");
    expect(await refusal(client.sweepStop.mutate({ id: "api-sweep" }))).toMatchObject({ code: "CONFLICT" });
    expect(await refusal(client.sweepStop.mutate({ id: "no-such-sweep" }))).toMatchObject({
      code: "NOT_FOUND",
    });
  });
});
