/**
 * Sweeps in GraphQL (`sweep(id)`, `sweeps`) over a sweep stored as `selfsup sweep` leaves one,
 * and the figures of the sweep page (rank correlation, η², learning curves) against hand
 * computations.
 */
import { openStore, type RunStore } from "@selfsup/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etaSquared, parameterImportance, ranks, spearman, trialCurve } from "../src/lib/sweep-stats";
import { codes, makeExec, stopApollo } from "./helpers";
import { seedSweep } from "./sweep-seed";

describe("sweep statistics", () => {
  it("ranks ties by their mean position; Spearman is ±1 for monotone data", () => {
    expect(ranks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
    expect(spearman([1, 2, 3, 4], [1, 4, 9, 16])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [8, 4, 2, 1])).toBeCloseTo(-1, 12);
    expect(spearman([1, 2], [1, 2])).toBeNull();
  });
  it("η² is the between-group share of the variance", () => {
    // groups {1,1} and {3,3}: all variance is between groups
    expect(
      etaSquared([
        [1, 1],
        [3, 3],
      ]),
    ).toBeCloseTo(1, 12);
    // groups {1,3} and {1,3}: none is
    expect(
      etaSquared([
        [1, 3],
        [1, 3],
      ]),
    ).toBeCloseTo(0, 12);
    // {0,2} and {4}: mean 2, total 8, between 2*(1-2)^2 + (4-2)^2 = 6
    expect(etaSquared([[0, 2], [4]])).toBeCloseTo(6 / 8, 12);
  });
  it("finds the parameter that matters", () => {
    const trials = Array.from({ length: 12 }, (_, i) => ({
      idx: i,
      status: "completed",
      params: { lr: 10 ** (-4 + i / 4), t: i % 2 ? 0.1 : 0.5 },
      value: i + (i % 2) * 0.1,
    }));
    const [lr, t] = parameterImportance(trials, ["lr", "t"]);
    expect(lr?.spearman).toBeCloseTo(1, 6);
    expect(lr?.variance).toBeGreaterThan(0.8);
    expect(t?.variance).toBeLessThan(0.1);
  });
  it("learning curve: mean and sample std over seeds per epoch", () => {
    const c = trialCurve(3, [
      { trialIdx: 3, seed: 0, epoch: 1, value: 0.5 },
      { trialIdx: 3, seed: 1, epoch: 1, value: 0.7 },
      { trialIdx: 3, seed: 0, epoch: 2, value: 0.8 },
      { trialIdx: 4, seed: 0, epoch: 1, value: 9 },
    ]);
    expect(c.epochs).toEqual([1, 2]);
    expect(c.mean[0]).toBeCloseTo(0.6, 12);
    expect(c.std[0]).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(c.std[1]).toBe(0);
    expect(c.seeds).toEqual([2, 1]);
  });
});

describe("GraphQL sweep(id) / sweeps", () => {
  let store: RunStore;
  let exec: ReturnType<typeof makeExec>;
  let sweep: { id: string; name: string };
  beforeAll(async () => {
    store = await openStore({ url: "memory://" });
    sweep = await seedSweep(store);
    exec = makeExec(store);
  }, 240_000);
  afterAll(async () => {
    await stopApollo();
    await store?.close();
  });

  it("lists sweeps and reads one with its trials, aggregates, importance and curves", async () => {
    const list = await exec<{ sweeps: Array<{ id: string; name: string; status: string }> }>(
      "{ sweeps(first: 10) { id name status } }",
    );
    expect(list.errors).toBeUndefined();
    expect(list.data?.sweeps).toEqual([{ id: sweep.id, name: sweep.name, status: "finished" }]);

    const r = await exec<{
      sweep: {
        name: string;
        tag: string;
        plannedTrials: number;
        seeds: number;
        trials: Array<{
          idx: number;
          status: string;
          value: number;
          runs: Array<{ status: string }>;
          config: unknown;
        }>;
        counts: Array<{ status: string; count: number }>;
        best: { idx: number; value: number; valueStd: number } | null;
        parameters: Array<{ path: string; kind: string; low: number | null }>;
        importance: Array<{ path: string; spearman: number | null; variance: number | null }>;
        curves: Array<{ trial: number; epochs: number[]; mean: number[]; std: number[] }>;
      } | null;
    }>(
      `query($id: ID!) { sweep(id: $id) { name tag plannedTrials seeds
        trials { idx status value runs { status } config }
        counts { status count } best { idx value valueStd }
        parameters { path kind low } importance { path spearman variance }
        curves(top: 3) { trial epochs mean std } } }`,
      { id: sweep.name },
    );
    expect(r.errors).toBeUndefined();
    const s = r.data?.sweep;
    expect(s?.tag).toBe("sweep:demo-sweep");
    expect(s?.plannedTrials).toBe(8);
    expect(s?.seeds).toBe(2);
    expect(s?.trials).toHaveLength(8);
    expect(s?.trials[1]?.runs.map((x) => x.status)).toEqual(["CANCELLED", "CANCELLED"]);
    expect(s?.counts.sort((a, b) => a.status.localeCompare(b.status))).toEqual([
      { status: "completed", count: 5 },
      { status: "pruned", count: 3 },
    ]);
    expect(s?.best?.idx).toBe(7);
    expect(s?.best?.value).toBeCloseTo(0.5 + 0.35 + 0.09 + 0.005, 10);
    expect(s?.parameters.map((p) => p.kind)).toEqual(["log_uniform", "values"]);
    expect(s?.parameters[0]?.low).toBe(0.0001);
    expect(s?.importance[0]?.spearman).toBeGreaterThan(0.9);
    expect(s?.curves.map((c) => c.trial)).toEqual([7, 6, 5]);
    expect(s?.curves[0]?.epochs).toEqual([1, 2, 3]);
    expect(s?.curves[0]?.std[0]).toBeCloseTo(0.01 / Math.SQRT2, 10);
    expect(s?.trials[0]?.config).toMatchObject({ method: { name: "simclr" } });
  });

  it("bounds its lists and checks its arguments", async () => {
    expect(codes(await exec("{ sweeps(first: 500) { id } }"))).toContain("BAD_USER_INPUT");
    expect(codes(await exec('{ sweeps(status: "exploded") { id } }'))).toContain("BAD_USER_INPUT");
    expect(codes(await exec('{ sweep(id: "x") { curves(top: 50) { trial } } }'))).toEqual([]); // no such sweep: null
    const bad = await exec(`query($id: ID!) { sweep(id: $id) { curves(top: 50) { trial } } }`, {
      id: sweep.id,
    });
    expect(codes(bad)).toContain("BAD_USER_INPUT");
    expect(codes(await exec('{ sweep(id: "../etc") { id } }'))).toContain("BAD_USER_INPUT");
    expect((await exec<{ sweep: null }>('{ sweep(id: "nope") { id } }')).data?.sweep).toBeNull();
  });
});
