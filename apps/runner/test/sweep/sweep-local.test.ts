/**
 * `selfsup sweep` end to end on the embedded store, with tiny SimCLR runs on 8x8 synthetic shapes
 * (cpu backend): a grid of 4 configurations x 2 seeds, 3 epochs, ASHA at epochs 1 and 2, two run
 * processes. The coordinator is killed with SIGKILL mid-sweep; its run processes see it go,
 * checkpoint and stop; `sweep resume` finishes the sweep. Then every trial has ended, every
 * finished run has each step's loss exactly once (nothing lost or trained twice), ASHA's recorded
 * decisions agree with their cutoffs, and pruned runs are cancelled, tagged and kept.
 */
import path from "node:path";
import { openStore, type RunStore, SweepStore } from "@selfsup/store";
import { beforeAll, describe, expect, it } from "vitest";
import { cliEnv, runCli, sleep, startCli, tempHome, writeConfig } from "../helpers.js";

function sweepFile(name: string, extra = ""): string {
  return [
    `name: ${name}`,
    "run:",
    "  method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
    "  backbone: { name: convnet, options: { width: 4, strides: [2] } }",
    "  dataset: { name: synthetic, options: { size: 8, trainSize: 64, testSize: 32 } }",
    "  training: { epochs: 3, batchSize: 16 }",
    "search: grid",
    "metric: { name: knn_top1, goal: maximize }",
    "parameters:",
    "  training.optimizer.lr: { values: [0.003, 0.00000001] }",
    "  method.options.temperature: { values: [0.1, 0.5] }",
    "seeds: 2",
    "budget: { trials: 4, max_concurrent: 2 }",
    "early_stop: { type: asha, min_epochs: 1, reduction_factor: 2 }",
    extra,
  ].join("\n");
}

describe("selfsup sweep (local processes, embedded store)", () => {
  let home: string;
  beforeAll(async () => {
    home = await tempHome("selfsup-sweep-");
  });

  it("survives kill -9 of the coordinator and finishes on resume, nothing lost", async () => {
    const env = cliEnv(home, { SELFSUP_HEARTBEAT_MS: "300", SELFSUP_STALE_AFTER_MS: "15000" });
    const file = await writeConfig(home, sweepFile("grid-kill"), "sweep.yaml");
    const first = startCli(["sweep", file, "--parallel", "2", "--poll", "0.3", "--json"], env);
    // kill once one trial has ended and others are under way
    await first.waitFor(
      (e) => e.type === "trial" && ["completed", "pruned"].includes(String(e.status)),
      150_000,
    );
    await first
      .waitFor((e) => e.type === "run" && e.action === "started" && Number(e.trial) >= 2, 150_000)
      .catch(() => undefined);
    await sleep(2500); // into training
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe(137);

    // the lease must lapse (or --force): the coordinator is gone, so force it
    const resumed = await runCli(
      ["sweep", "resume", "grid-kill", "--force", "--parallel", "2", "--poll", "0.3", "--json"],
      env,
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    const summary = resumed.events.find((e) => e.type === "summary") as Record<string, unknown>;
    expect(summary.result).toBe("finished");

    const store: RunStore = await openStore({ dataDir: path.join(home, "db") });
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
          expect(decisions.some((d) => d.trialIdx === t.idx && d.decision === "stop")).toBe(true);
          for (const r of mine) {
            if (r.status === "finished") continue; // a seed that ended before its sibling's stop
            expect(r.status).toBe("cancelled");
            expect(r.tags).toContain("pruned");
          }
        }
        for (const r of mine) expect(r.tags).toContain("sweep:grid-kill");
      }
      // every finished run: loss at steps 1..12 exactly once (3 epochs x 4 steps)
      for (const r of runs.filter((x) => x.status === "finished")) {
        const pts = await store.readPoints(r.runId, "loss", { limit: 1000 });
        expect(pts.map((p) => p.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      }
      // pruned runs keep their checkpoints
      for (const r of runs.filter((x) => x.status === "cancelled" && x.tags.includes("pruned"))) {
        const run = await store.getRun(r.runId);
        if (run?.startedAt) expect((await store.listCheckpoints(r.runId)).length).toBeGreaterThan(0);
      }
    } finally {
      await store.close();
    }
  }, 400_000); // a dozen tiny runs in child processes: ~70 s on an idle 2-core box
});
