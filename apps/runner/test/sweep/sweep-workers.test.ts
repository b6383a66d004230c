/**
 * A sweep on the team path: DATABASE_URL set, so `selfsup sweep` queues each run on pg-boss and
 * two `selfsup worker` processes train them (tiny SimCLR runs on synthetic shapes, cpu backend).
 * One worker is killed with SIGKILL while it trains; pg-boss hands its job to the other worker,
 * which resumes the run from its checkpoint. The sweep finishes with every trial ended and every
 * finished run holding each step's loss exactly once.
 */
import { openStore, type RunStore, SweepStore } from "@selfsup/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, cliEnv, runCli, sleep, startCli, tempHome, writeConfig } from "../helpers.js";
import { createTestDatabase, TEST_DATABASE_URL, warnSkipped } from "../pg.js";

warnSkipped("the sweep-on-workers test");

const SWEEP = [
  "name: workers-sweep",
  "run:",
  "  method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
  "  backbone: { name: convnet, options: { width: 4, strides: [2] } }",
  "  dataset: { name: synthetic, options: { size: 8, trainSize: 96, testSize: 32 } }",
  "  training: { epochs: 3, batchSize: 16 }",
  "search: tpe",
  "metric: { name: knn_top1, goal: maximize }",
  "parameters:",
  "  training.optimizer.lr: { log_uniform: [0.00000001, 0.01] }",
  "  method.options.temperature: { choice: [0.1, 0.5] }",
  "seeds: 1",
  "budget: { trials: 4, max_concurrent: 2 }",
  "tpe: { startup_trials: 2 }",
  "early_stop: { type: asha, min_epochs: 1, reduction_factor: 2 }",
].join("\n");

describe.skipIf(!TEST_DATABASE_URL)("selfsup sweep on two workers (PostgreSQL + pg-boss)", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let home: string;
  const workers: CliRun[] = [];

  beforeAll(async () => {
    db = await createTestDatabase("selfsup_sweep");
    home = await tempHome("selfsup-sweep-pg-");
  });

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    await db?.drop();
  });

  it("finishes with a worker killed mid-trial, its run resumed by the other", async () => {
    const env = cliEnv(home, {
      DATABASE_URL: db.url,
      SELFSUP_HEARTBEAT_MS: "300",
      SELFSUP_STALE_AFTER_MS: "15000",
      SELFSUP_QUEUE_HEARTBEAT_SECONDS: "10",
    });
    const file = await writeConfig(home, SWEEP, "sweep.yaml");
    // the same file again after it exists: refused before anything is queued
    const sweep = startCli(["sweep", file, "--json", "--poll", "0.5"], env);
    await sweep.waitFor((e) => e.type === "run" && e.action === "queued", 120_000);
    const dup = await runCli(["sweep", file, "--json"], env);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/a sweep named "workers-sweep" already exists/);

    workers.push(startCli(["worker", "--json", "--poll", "0.5"], env));
    workers.push(startCli(["worker", "--json", "--poll", "0.5"], env));
    const [a] = workers as [CliRun, CliRun];
    const started = await a.waitFor(
      (e) => e.type === "worker" && /^starting run/.test(String(e.message)),
      120_000,
    );
    const killedRun = /run (\S+)/.exec(String(started.message))?.[1] as string;
    await a.waitFor((e) => e.type === "checkpoint", 60_000); // into training, a checkpoint written
    a.child.kill("SIGKILL");
    expect(await a.exited).toBe(137);

    expect(await sweep.exited, sweep.stderr()).toBe(0);
    const summary = sweep.events.find((e) => e.type === "summary") as Record<string, unknown>;
    expect(summary.result).toBe("finished");

    const store: RunStore = await openStore({ url: db.url, poolSize: 1 });
    try {
      const sweeps = new SweepStore(store.db);
      const s = await sweeps.getSweep("workers-sweep");
      expect(s?.status).toBe("finished");
      expect(s?.mode).toBe("queue");
      const trials = await sweeps.listTrials(s?.id as string);
      expect(trials).toHaveLength(4);
      for (const t of trials) expect(["completed", "pruned"]).toContain(t.status);
      const runs = await sweeps.sweepRuns(s?.id as string);
      const killed = runs.find((r) => r.runId === killedRun);
      expect(killed, "the killed worker's run belongs to the sweep").toBeDefined();
      expect(["finished", "cancelled"]).toContain(killed?.status);
      const run = await store.getRun(killedRun);
      if (killed?.status === "finished") {
        // resumed elsewhere: the other worker's host, and each step once
        expect(run?.host).not.toContain(`:${a.child.pid}`);
        const pts = await store.readPoints(killedRun, "loss", { limit: 1000 });
        expect(pts.map((p) => p.step)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
      }
      for (const r of runs.filter((x) => x.status === "finished")) {
        const pts = await store.readPoints(r.runId, "loss", { limit: 1000 });
        expect(pts.map((p) => p.step)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
      }
    } finally {
      await store.close();
    }
    const b = workers[1] as CliRun;
    b.child.kill("SIGINT");
    await b.exited;
    await sleep(10);
  }, 400_000); // includes pg-boss' retry of the killed worker's job (heartbeat 10 s + supervision)
});
