/**
 * Sweeps under faults (the long end-to-end cases; `pnpm test` keeps a small local sweep, see
 * apps/runner/test/sweep/sweep-local.test.ts). Tiny SimCLR runs on 8x8 synthetic shapes.
 *
 * 1. Local processes on the embedded store: a grid of 4 configurations x 2 seeds, 3 epochs, ASHA at
 *    epochs 1 and 2, two run processes. The coordinator is killed with SIGKILL mid-sweep; its run
 *    processes see it go, checkpoint and stop; `sweep resume` finishes the sweep. Every trial has
 *    ended, every run has each step's loss exactly once, the run that took a stop decision trained
 *    no step past its rung, ASHA's recorded decisions agree with their cutoffs, and pruned runs are
 *    cancelled, tagged and keep their checkpoints.
 * 2. PostgreSQL + pg-boss: `selfsup sweep` queues each run and two `selfsup worker` processes train
 *    them. One worker is killed with SIGKILL while it trains; pg-boss hands its job to the other,
 *    which resumes the run from its checkpoint. The sweep finishes with every trial ended and every
 *    finished run holding each step's loss exactly once.
 *
 * Timing: nothing here waits for a fixed time to pass except "into training" before a kill, and
 * heartbeats are judged stale only after 60 s (a loaded machine can starve a process for many
 * seconds; a live run marked stale would be trained twice).
 */
import path from "node:path";
import {
  createScratchDatabase,
  openStore,
  type RunStore,
  type ScratchDatabase,
  SweepStore,
} from "@selfsup/store";
import { afterAll, describe, expect, inject, it } from "vitest";
import {
  type CliRun,
  cliEnv,
  record,
  runCli,
  sleep,
  startCli,
  steps,
  tempHome,
  writeConfig,
} from "../src/harness.js";

const beats = { SELFSUP_HEARTBEAT_MS: "300", SELFSUP_STALE_AFTER_MS: "60000" };

function runBlock(trainSize: number): string[] {
  return [
    "run:",
    "  method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
    "  backbone: { name: convnet, options: { width: 4, strides: [2] } }",
    `  dataset: { name: synthetic, options: { size: 8, trainSize: ${trainSize}, testSize: 32 } }`,
    "  training: { epochs: 3, batchSize: 16 }",
  ];
}

/** Loss at steps 1..n exactly once: finished runs all their steps, pruned ones up to their rung. */
async function lossSteps(store: RunStore, runId: string): Promise<number[]> {
  return (await store.readPoints(runId, "loss", { limit: 1000 })).map((p) => p.step);
}

describe("sweep: kill -9 of the coordinator (local processes, embedded store)", () => {
  it("finishes on resume with nothing lost and pruned runs stopped at their rung", async () => {
    const home = await tempHome("selfsup-fault-sweep-");
    const env = cliEnv(home, beats);
    const file = await writeConfig(
      home,
      [
        "name: grid-kill",
        ...runBlock(64),
        "search: grid",
        "metric: { name: knn_top1, goal: maximize }",
        "parameters:",
        "  training.optimizer.lr: { values: [0.003, 0.00000001] }",
        "  method.options.temperature: { values: [0.1, 0.5] }",
        "seeds: 2",
        "budget: { trials: 4, max_concurrent: 2 }",
        "early_stop: { type: asha, min_epochs: 1, reduction_factor: 2 }",
      ].join("\n"),
      "sweep.yaml",
    );
    const first = startCli(["sweep", file, "--parallel", "2", "--poll", "0.3", "--json"], env);
    // kill once one trial has ended and a later one is under way
    await first.waitFor(
      (e) => e.type === "trial" && ["completed", "pruned"].includes(String(e.status)),
      300_000,
    );
    const later = await first
      .waitFor((e) => e.type === "run" && e.action === "started" && Number(e.trial) >= 2, 300_000)
      .then(() => true)
      .catch(() => false);
    await sleep(2500); // into training
    const finishedBefore = first.child.exitCode !== null;
    first.child.kill("SIGKILL");
    const code = await first.exited;

    const resumed = await runCli(
      ["sweep", "resume", "grid-kill", "--force", "--parallel", "2", "--poll", "0.3", "--json"],
      env,
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = resumed.events.find((e) => e.type === "summary") as Record<string, unknown>;
    expect(summary.result).toBe("finished");

    const store: RunStore = await openStore({ dataDir: path.join(home, "db") });
    let lost = 0;
    let pastRung = 0;
    let pruned = 0;
    try {
      const sweeps = new SweepStore(store.db);
      const sweep = await sweeps.getSweep("grid-kill");
      expect(sweep?.status).toBe("finished");
      const id = sweep?.id as string;
      const trials = await sweeps.listTrials(id);
      expect(trials.map((t) => t.idx)).toEqual([0, 1, 2, 3]);
      for (const t of trials) expect(["completed", "pruned"]).toContain(t.status);
      const runs = await sweeps.sweepRuns(id);
      const values = await sweeps.epochValues(id);
      const decisions = await sweeps.rungDecisions(id);
      // ASHA decided at the rungs, consistently with the cutoff it recorded
      expect(decisions.length).toBeGreaterThan(0);
      for (const d of decisions) {
        expect([1, 2]).toContain(d.rung);
        if (d.cutoff === null) expect(d.decision).toBe("continue");
        else expect(d.decision).toBe(d.value >= d.cutoff ? "continue" : "stop");
      }
      for (const t of trials) {
        const mine = runs.filter((r) => r.trialIdx === t.idx);
        expect(mine.map((r) => r.seed).sort()).toEqual([0, 1]);
        if (t.status === "completed") {
          expect(mine.every((r) => r.status === "finished")).toBe(true);
          const finals = values.filter((v) => v.trialIdx === t.idx && v.epoch === 3).map((v) => v.value);
          expect(finals).toHaveLength(2);
          expect(t.value).toBeCloseTo((finals[0] as number) / 2 + (finals[1] as number) / 2, 10);
        } else {
          pruned += 1;
          const stop = decisions.find((d) => d.trialIdx === t.idx && d.decision === "stop");
          expect(stop).toBeDefined();
          const counts: number[] = [];
          for (const r of mine) {
            const xs = await lossSteps(store, r.runId);
            expect(xs).toEqual(steps(xs.length)); // each step once, whatever stopped it
            counts.push(xs.length);
            if (r.status === "finished") continue; // a seed that ended before its sibling's stop
            expect(r.status).toBe("cancelled");
            expect(r.tags).toContain("pruned");
          }
          // the seed that took the decision stopped at the rung's epoch end (4 steps an epoch),
          // not a step past it (siblings stop at their own next epoch end, or where a kill left them)
          if (!counts.includes(4 * (stop?.rung ?? 0))) pastRung += 1;
        }
        for (const r of mine) expect(r.tags).toContain("sweep:grid-kill");
      }
      // every finished run: loss at steps 1..12 exactly once (3 epochs x 4 steps)
      for (const r of runs.filter((x) => x.status === "finished")) {
        const xs = await lossSteps(store, r.runId);
        lost += steps(12).filter((s) => !xs.includes(s)).length + xs.length - new Set(xs).size;
        expect(xs).toEqual(steps(12));
      }
      // pruned runs that trained keep their checkpoints (one stopped before its first step has none)
      for (const r of runs.filter((x) => x.status === "cancelled" && x.tags.includes("pruned"))) {
        if ((await lossSteps(store, r.runId)).length > 0)
          expect((await store.listCheckpoints(r.runId)).length).toBeGreaterThan(0);
      }
    } finally {
      await store.close();
    }
    record({
      section: "sweeps",
      name: "kill -9 of a local sweep's coordinator, then sweep resume",
      expected: "finished; 4 trials ended; steps once; the deciding run stops at its rung",
      got: `coordinator ${finishedBefore ? "had already ended" : `killed (exit ${code})`}${later ? " with trial >= 2 under way" : ""}; resume finished; ${pruned} pruned; lost/duplicated ${lost}; past rung ${pastRung}`,
      ok: lost === 0 && pastRung === 0,
      figures: { points_lost: lost, pruned },
    });
    expect(pastRung).toBe(0);
  }, 900_000);
});

const pgUrl = inject("pgUrl");

describe.skipIf(!pgUrl)("sweep: kill -9 of a worker (PostgreSQL + pg-boss, two workers)", () => {
  let db: ScratchDatabase | undefined;
  const workers: CliRun[] = [];

  afterAll(async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    await db?.drop().catch(() => {});
  });

  it("finishes with a worker killed mid-trial, its run resumed by the other", async () => {
    db = await createScratchDatabase(pgUrl, "selfsup_fault_sweep");
    const home = await tempHome("selfsup-fault-sweep-pg-");
    const env = cliEnv(home, { ...beats, DATABASE_URL: db.url, SELFSUP_QUEUE_HEARTBEAT_SECONDS: "10" });
    const file = await writeConfig(
      home,
      [
        "name: workers-sweep",
        ...runBlock(96),
        "  checkpoint: { everySteps: 2 }",
        "search: tpe",
        "metric: { name: knn_top1, goal: maximize }",
        "parameters:",
        "  training.optimizer.lr: { log_uniform: [0.00000001, 0.01] }",
        "  method.options.temperature: { choice: [0.1, 0.5] }",
        "seeds: 1",
        "budget: { trials: 4, max_concurrent: 2 }",
        "tpe: { startup_trials: 2 }",
        "early_stop: { type: asha, min_epochs: 1, reduction_factor: 2 }",
      ].join("\n"),
      "sweep.yaml",
    );
    const sweep = startCli(["sweep", file, "--json", "--poll", "0.5"], env);
    await sweep.waitFor((e) => e.type === "run" && e.action === "queued");
    // the same file again after it exists: refused before anything is queued
    const dup = await runCli(["sweep", file, "--json"], env);
    expect(dup.code).toBe(2);
    expect(dup.stderr).toMatch(/a sweep named "workers-sweep" already exists/);

    workers.push(startCli(["worker", "--json", "--poll", "0.5"], env));
    workers.push(startCli(["worker", "--json", "--poll", "0.5"], env));
    const [a, b] = workers as [CliRun, CliRun];
    const started = await a.waitFor((e) => e.type === "worker" && /^starting run/.test(String(e.message)));
    const killedRun = /run (\S+)/.exec(String(started.message))?.[1] as string;
    await a.waitFor((e) => e.type === "checkpoint"); // into training, a checkpoint written
    a.child.kill("SIGKILL");
    expect(await a.exited).toBe(137);

    // pg-boss retries the job after its heartbeat lapses (10 s): the sweep ends by itself
    expect(await sweep.exited, sweep.stderr()).toBe(0);
    const summary = sweep.events.find((e) => e.type === "summary") as Record<string, unknown>;
    expect(summary.result).toBe("finished");

    const store: RunStore = await openStore({ url: db.url, poolSize: 1 });
    let lost = 0;
    let killedStatus = "";
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
      killedStatus = String(killed?.status);
      expect(["finished", "cancelled"]).toContain(killed?.status);
      const run = await store.getRun(killedRun);
      if (killed?.status === "finished") {
        // resumed elsewhere: the other worker's host
        expect(run?.host).not.toContain(`:${a.child.pid}`);
      }
      // 96 shapes / 16 = 6 steps an epoch: finished runs 1..18 once, pruned ones up to an epoch end
      for (const r of runs) {
        const xs = await lossSteps(store, r.runId);
        if (r.status === "finished") {
          lost += steps(18).filter((x) => !xs.includes(x)).length + xs.length - new Set(xs).size;
          expect(xs).toEqual(steps(18));
        } else if (xs.length > 0) {
          expect(xs).toEqual(steps(xs.length));
          expect(xs.length % 6).toBe(0);
        }
      }
    } finally {
      await store.close();
    }
    record({
      section: "sweeps",
      name: "kill -9 of a worker during a queued sweep (2 workers, PostgreSQL)",
      expected: "sweep finishes; the killed run resumed by the other worker; steps once",
      got: `killed run ${killedStatus}; lost/duplicated ${lost}`,
      ok: lost === 0,
      figures: { points_lost: lost },
    });
    b.child.kill("SIGINT");
    await b.exited;
  }, 900_000);
});
