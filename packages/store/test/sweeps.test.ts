/**
 * SweepStore (migration 009-sweeps) on in-memory PGlite: unique names, the coordinator lease,
 * ASHA decisions written once (the first writer's stands), epoch values replayed idempotently,
 * and a deleted run taking its sweep rows with it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type RunStore, StoreError, SweepStore } from "../src/index.js";

describe("SweepStore", () => {
  let store: RunStore;
  let sweeps: SweepStore;
  beforeAll(async () => {
    store = await openStore({ url: "memory://" });
    sweeps = new SweepStore(store.db);
  }, 120_000);
  afterAll(async () => {
    await store?.close();
  });

  const input = (name: string) => ({
    name,
    spec: { search: "tpe" },
    search: "tpe",
    metric: "knn_top1",
    goal: "maximize" as const,
    mode: "local" as const,
  });

  it("refuses a second sweep with the same name, naming the first", async () => {
    const a = await sweeps.createSweep(input("alpha"));
    const err = await sweeps.createSweep(input("alpha")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe("conflict");
    expect((err as StoreError).message).toContain(a.id);
    expect((await sweeps.getSweep("alpha"))?.id).toBe(a.id);
    expect((await sweeps.getSweep(a.id))?.name).toBe("alpha");
  });

  it("leases the sweep to one coordinator until it goes stale", async () => {
    const s = await sweeps.createSweep(input("lease"));
    expect(await sweeps.claimSweep(s.id, "one", 60_000)).toBe(true);
    expect(await sweeps.claimSweep(s.id, "two", 60_000)).toBe(false);
    expect(await sweeps.touchSweep(s.id, "two")).toBe(false);
    expect(await sweeps.touchSweep(s.id, "one")).toBe(true);
    // stale after 0 ms: another may take it, and the first then loses it
    await new Promise((r) => setTimeout(r, 20));
    expect(await sweeps.claimSweep(s.id, "two", 1)).toBe(true);
    expect(await sweeps.touchSweep(s.id, "one")).toBe(false);
    await sweeps.releaseSweep(s.id, "two");
    expect(await sweeps.claimSweep(s.id, "three", 60_000)).toBe(true);
  });

  it("keeps the first rung decision, replays epoch values idempotently, cascades from runs", async () => {
    const s = await sweeps.createSweep(input("rungs"));
    const t = await sweeps.addTrial(s.id, 0, { lr: 0.1 });
    expect(t.status).toBe("pending");
    // adding trial 0 again returns it unchanged (a resumed coordinator)
    expect((await sweeps.addTrial(s.id, 0, { lr: 0.5 })).params).toEqual({ lr: 0.1 });
    const run = await store.createRun({ name: "r", method: "simclr" });
    await sweeps.linkRun({ runId: run.id, sweepId: s.id, trialIdx: 0, seed: 0 });
    expect(await sweeps.runLink(run.id)).toEqual({ runId: run.id, sweepId: s.id, trialIdx: 0, seed: 0 });
    await sweeps.recordEpochValue(run.id, 1, 0.5);
    await sweeps.recordEpochValue(run.id, 1, 0.6);
    await sweeps.recordEpochValue(run.id, 2, Number.NaN); // not finite: ignored
    expect(await sweeps.epochValues(s.id)).toEqual([
      { runId: run.id, trialIdx: 0, seed: 0, epoch: 1, value: 0.6 },
    ]);
    const first = await sweeps.decideRung({
      sweepId: s.id,
      trialIdx: 0,
      rung: 1,
      decision: "stop",
      value: 0.6,
      cutoff: 0.7,
    });
    const second = await sweeps.decideRung({
      sweepId: s.id,
      trialIdx: 0,
      rung: 1,
      decision: "continue",
      value: 0.9,
      cutoff: null,
    });
    expect(first.decision).toBe("stop");
    expect(second).toEqual(first);
    await sweeps.updateTrial(s.id, 0, { status: "pruned", prunedAt: 1, value: 0.6 });
    expect((await sweeps.listTrials(s.id))[0]).toMatchObject({ status: "pruned", prunedAt: 1, value: 0.6 });
    expect((await sweeps.sweepRuns(s.id)).map((r) => r.status)).toEqual(["queued"]);
    await store.deleteRun(run.id);
    expect(await sweeps.sweepRuns(s.id)).toEqual([]);
    expect(await sweeps.epochValues(s.id)).toEqual([]);
    expect((await sweeps.listSweeps({ first: 10 })).map((x) => x.name)).toEqual(["rungs", "lease", "alpha"]);
    expect(await sweeps.listSweeps({ first: 10, status: "finished" })).toEqual([]);
  });
});
