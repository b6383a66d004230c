/**
 * Scale-out on pg-boss: two `selfsup worker` processes against one real PostgreSQL take four
 * queued tiny runs; each run is trained exactly once and finishes.
 */
import { openStore, type RunStore } from "@selfsup/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRunConfig } from "../src/config.js";
import { loadRegistry } from "../src/plugins.js";
import { RunQueue } from "../src/queue.js";
import { submitRun } from "../src/run/submit.js";
import {
  type CliRun,
  cliEnv,
  runCli,
  sleep,
  startCli,
  tempHome,
  tinyConfig,
  writeConfig,
} from "./helpers.js";
import { createTestDatabase, TEST_DATABASE_URL, warnSkipped } from "./pg.js";

warnSkipped("the pg-boss worker tests");

describe.skipIf(!TEST_DATABASE_URL)("selfsup submit + two workers on PostgreSQL", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: RunStore;
  let queue: RunQueue;
  let home: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await openStore({ url: db.url, poolSize: 2 });
    queue = await RunQueue.open({ url: db.url, max: 2 });
    home = await tempHome();
  });

  afterAll(async () => {
    await queue?.stop(1000).catch(() => {});
    await store?.close();
    await db?.drop();
  });

  it("runs four queued runs, each exactly once", async () => {
    const env = cliEnv(home, { DATABASE_URL: db.url, SELFSUP_HEARTBEAT_MS: "500" });
    const file = await writeConfig(home, tinyConfig({ trainSize: 64 }));

    // One through the CLI, three through the same library call the CLI and tRPC use.
    const submitted = await runCli(["submit", file, "--name", "queued-0", "--json"], env);
    expect(submitted.code, submitted.stderr).toBe(0);
    const ids: string[] = [JSON.parse(submitted.stdout).id];
    const { registry } = await loadRegistry();
    const raw = parseRunConfig({
      method: { name: "simclr", options: { projectorHiddenDim: 16, projectorOutputDim: 8 } },
      backbone: { name: "convnet", options: { width: 4, strides: [2] } },
      dataset: { name: "synthetic", options: { size: 8, trainSize: 64, testSize: 32 } },
      training: { epochs: 1, batchSize: 16 },
    });
    for (let i = 1; i < 4; i++)
      ids.push((await submitRun(store, queue, registry, { ...raw, name: `queued-${i}` })).id);
    for (const id of ids) expect((await store.getRun(id))?.status).toBe("queued");

    const workers: CliRun[] = [
      startCli(["worker", "--json", "--poll", "0.5"], env),
      startCli(["worker", "--json", "--poll", "0.5"], env),
    ];
    try {
      const deadline = Date.now() + 150_000;
      for (;;) {
        const runs = await Promise.all(ids.map((id) => store.getRun(id)));
        if (runs.every((r) => r && ["finished", "failed", "cancelled"].includes(r.status))) break;
        if (Date.now() > deadline)
          throw new Error(
            `runs did not finish: ${runs.map((r) => `${r?.id}:${r?.status}`).join(", ")}\n${workers.map((w) => w.stderr()).join("\n")}`,
          );
        await sleep(500);
      }
    } finally {
      for (const w of workers) w.child.kill("SIGTERM");
    }
    const codes = await Promise.all(workers.map((w) => w.exited));
    for (const c of codes) expect(c).toBe(130);

    const starts = workers.flatMap((w) =>
      w.events.filter((e) => e.type === "start").map((e) => String(e.runId)),
    );
    expect([...starts].sort()).toEqual([...ids].sort());
    for (const id of ids) {
      const run = await store.getRun(id);
      expect(run?.status, run?.error ?? "").toBe("finished");
      const [loss] = await store.readSeries(id, ["loss"], { maxPoints: 100 });
      expect(loss?.points.map((p) => p.x)).toEqual([1, 2, 3, 4]);
      const job = await queue.job(id);
      expect(job?.state).toBe("completed");
      expect(job?.retryCount).toBe(0);
    }
  });
});

describe("selfsup submit / worker without PostgreSQL", () => {
  it("refuse to start without a PostgreSQL DATABASE_URL (exit 2)", async () => {
    const env = cliEnv(await tempHome());
    const r = await runCli(["worker"], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "worker needs the shared PostgreSQL that holds the queue: set DATABASE_URL=postgres://",
    );
    const s = await runCli(["submit", "--method", "simclr", "--dataset", "synthetic"], env);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("submit needs the shared PostgreSQL");
  });
});
