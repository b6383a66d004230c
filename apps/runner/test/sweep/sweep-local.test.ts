/**
 * `selfsup sweep` end to end on the embedded store, kept small for `pnpm test` (a few run
 * processes of 2-4 steps): a grid of 2 learning rates x 2 seeds, 2 epochs, ASHA at epoch 1, two
 * run processes. The metric is the learning rate at the epoch's last step, so ASHA's outcome does
 * not depend on training noise or on which process runs first: trial 0 (lr 3e-3) reaches the rung
 * before trial 1 exists (max_concurrent 2 = trial 0's two seeds) and continues; trial 1 (lr 1e-8)
 * is stopped there. Its runs end `cancelled` + `pruned` at the rung's epoch end with no step past
 * it; trial 0's finish with each step once and its value the mean over seeds.
 *
 * The long cases (kill -9 of the coordinator and `sweep resume`; two workers on PostgreSQL, one
 * killed) are in the fault suite: tests/faults/test/sweep.test.ts (`pnpm test:faults`).
 */
import path from "node:path";
import { openStore, type RunStore, SweepStore } from "@selfsup/store";
import { describe, expect, it } from "vitest";
import { cliEnv, runCli, tempHome, writeConfig } from "../helpers.js";

const SWEEP = [
  "name: asha-local",
  "run:",
  "  method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
  "  backbone: { name: convnet, options: { width: 4, strides: [2] } }",
  "  dataset: { name: synthetic, options: { size: 8, trainSize: 32, testSize: 32 } }",
  "  training: { epochs: 2, batchSize: 16 }",
  "  eval: { knn: false }",
  "search: grid",
  "metric: { name: lr, goal: maximize }",
  "parameters:",
  "  training.optimizer.lr: { values: [0.003, 0.00000001] }",
  "seeds: 2",
  "budget: { trials: 2, max_concurrent: 2 }",
  "early_stop: { type: asha, min_epochs: 1, reduction_factor: 2 }",
].join("\n");

const steps = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("selfsup sweep (local processes, embedded store)", () => {
  it("prunes the worse trial at its rung with no step past it and completes the other", async () => {
    const home = await tempHome("selfsup-sweep-");
    // heartbeats judged stale only after a minute: a starved process must not be resumed twice
    const env = cliEnv(home, { SELFSUP_STALE_AFTER_MS: "60000" });
    const file = await writeConfig(home, SWEEP, "sweep.yaml");
    const r = await runCli(["sweep", file, "--parallel", "2", "--poll", "0.3", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const summary = r.events.find((e) => e.type === "summary") as Record<string, unknown>;
    expect(summary.result).toBe("finished");

    const store: RunStore = await openStore({ dataDir: path.join(home, "db") });
    try {
      const sweeps = new SweepStore(store.db);
      const sweep = await sweeps.getSweep("asha-local");
      expect(sweep?.status).toBe("finished");
      const id = sweep?.id as string;
      const trials = await sweeps.listTrials(id);
      expect(trials.map((t) => [t.idx, t.status])).toEqual([
        [0, "completed"],
        [1, "pruned"],
      ]);
      const [t0, t1] = trials;
      const runs = await sweeps.sweepRuns(id);
      const values = await sweeps.epochValues(id);
      const decisions = await sweeps.rungDecisions(id);
      expect(decisions.map((d) => [d.trialIdx, d.rung, d.decision])).toEqual([
        [0, 1, "continue"],
        [1, 1, "stop"],
      ]);
      expect(decisions[0]?.cutoff).toBeNull(); // first at the rung: nothing to compare with
      const t0Rung = values.filter((v) => v.trialIdx === 0 && v.epoch === 1).map((v) => v.value);
      expect(t0Rung.length).toBeGreaterThan(0);
      expect(decisions[1]?.cutoff).toBeCloseTo(t0Rung.reduce((a, b) => a + b, 0) / t0Rung.length, 12);
      expect(decisions[1]?.value).toBeLessThan(decisions[1]?.cutoff as number);
      expect(t1?.prunedAt).toBe(1);

      // trial 0: both seeds finished, steps 1..4 once, value = mean of the seeds' last values
      const mine0 = runs.filter((x) => x.trialIdx === 0);
      expect(mine0.map((x) => [x.seed, x.status]).sort()).toEqual([
        [0, "finished"],
        [1, "finished"],
      ]);
      for (const x of mine0) {
        expect(x.tags).toContain("sweep:asha-local");
        const pts = await store.readPoints(x.runId, "loss", { limit: 100 });
        expect(pts.map((p) => p.step)).toEqual(steps(4));
      }
      const finals = values.filter((v) => v.trialIdx === 0 && v.epoch === 2).map((v) => v.value);
      expect(finals).toHaveLength(2);
      expect(t0?.value).toBeCloseTo(((finals[0] as number) + (finals[1] as number)) / 2, 12);

      // trial 1: its runs cancelled and tagged; the deciding seed stopped at the end of epoch 1
      // (2 steps), a later one at its own epoch end or before its first step
      const mine1 = runs.filter((x) => x.trialIdx === 1);
      expect(mine1.map((x) => x.seed).sort()).toEqual([0, 1]);
      const counts: number[] = [];
      for (const x of mine1) {
        expect(x.status).toBe("cancelled");
        expect(x.tags).toContain("pruned");
        const xs = (await store.readPoints(x.runId, "loss", { limit: 100 })).map((p) => p.step);
        expect(xs).toEqual(steps(xs.length));
        counts.push(xs.length);
        if (xs.length > 0) expect((await store.listCheckpoints(x.runId)).length).toBeGreaterThan(0);
      }
      expect(counts).toContain(2);
      for (const n of counts) expect([0, 2]).toContain(n);
    } finally {
      await store.close();
    }
  }, 300_000);
});
