/**
 * Samplers without training: grid order, seeded determinism of random and TPE, and TPE finding
 * better points than random search on synthetic objectives with the same number of trials.
 */
import { describe, expect, it } from "vitest";
import { ashaDecision, percentile, rungEpochs } from "../../src/sweep/asha.js";
import {
  type Distribution,
  gridPoint,
  gridSize,
  type Params,
  randomPoint,
  type Space,
} from "../../src/sweep/space.js";
import {
  fitParzen,
  type Observation,
  parzenLogPdf,
  rankObservations,
  tpePoint,
} from "../../src/sweep/tpe.js";

const space: Space = [
  ["training.optimizer.lr", { kind: "log_uniform", low: 1e-4, high: 1e-1 }],
  ["method.options.temperature", { kind: "uniform", low: 0.05, high: 1 }],
  ["method.options.projectorOutputDim", { kind: "values", values: [16, 32, 64, 128] }],
  ["training.batchSize", { kind: "int_uniform", low: 8, high: 64 }],
];

/** Peaks at lr = 1e-2.5, temperature 0.2, dim 64, batch 40; values in (-inf, 0]. */
function objective(p: Params): number {
  const lr = Math.log10(p["training.optimizer.lr"] as number) + 2.5;
  const t = ((p["method.options.temperature"] as number) - 0.2) / 0.3;
  const dim = p["method.options.projectorOutputDim"] === 64 ? 0 : 0.5;
  const b = ((p["training.batchSize"] as number) - 40) / 30;
  return -(lr * lr + t * t + dim + b * b);
}

function search(kind: "random" | "tpe", seed: number, trials: number): number {
  const history: Observation[] = [];
  for (let i = 0; i < trials; i++) {
    const params =
      kind === "random"
        ? randomPoint(space, seed, i)
        : tpePoint(space, history, seed, i, { goal: "maximize", startup: 8, candidates: 24, gamma: 0.25 });
    history.push({ params, value: objective(params) });
  }
  return Math.max(...history.map((h) => h.value));
}

describe("grid", () => {
  const g: Space = [
    ["a", { kind: "values", values: [1, 2, 3] }],
    ["b", { kind: "choice", values: ["x", "y"] }],
  ];
  it("enumerates every combination once, last parameter fastest", () => {
    expect(gridSize(g)).toBe(6);
    const points = Array.from({ length: 6 }, (_, i) => gridPoint(g, i));
    expect(points[0]).toEqual({ a: 1, b: "x" });
    expect(points[1]).toEqual({ a: 1, b: "y" });
    expect(points[5]).toEqual({ a: 3, b: "y" });
    expect(new Set(points.map((p) => JSON.stringify(p))).size).toBe(6);
  });
  it("has no size over a continuous parameter", () => {
    expect(gridSize([["lr", { kind: "uniform", low: 0, high: 1 }]])).toBeUndefined();
    expect(gridSize([["n", { kind: "int_uniform", low: 2, high: 5 }]])).toBe(4);
  });
});

describe("random", () => {
  it("draws within each distribution's range, the same for the same (seed, idx)", () => {
    for (let i = 0; i < 200; i++) {
      const p = randomPoint(space, 7, i);
      expect(p).toEqual(randomPoint(space, 7, i));
      const lr = p["training.optimizer.lr"] as number;
      expect(lr).toBeGreaterThanOrEqual(1e-4);
      expect(lr).toBeLessThanOrEqual(1e-1);
      expect([16, 32, 64, 128]).toContain(p["method.options.projectorOutputDim"]);
      const b = p["training.batchSize"] as number;
      expect(Number.isInteger(b) && b >= 8 && b <= 64).toBe(true);
    }
    expect(randomPoint(space, 7, 0)).not.toEqual(randomPoint(space, 8, 0));
  });
  it("log_uniform spreads over decades (about a third of draws per decade)", () => {
    const decades = [0, 0, 0];
    for (let i = 0; i < 3000; i++) {
      const lr = randomPoint(space, 1, i)["training.optimizer.lr"] as number;
      decades[Math.min(2, Math.floor(Math.log10(lr) + 4))] += 1;
    }
    for (const d of decades) expect(d).toBeGreaterThan(850);
  });
});

describe("TPE", () => {
  it("is deterministic: the same history and seed give the same next trial", () => {
    const history: Observation[] = Array.from({ length: 12 }, (_, i) => {
      const params = randomPoint(space, 3, i);
      return { params, value: objective(params) };
    });
    const opts = { goal: "maximize" as const, startup: 8, candidates: 24, gamma: 0.25 };
    expect(tpePoint(space, history, 3, 12, opts)).toEqual(tpePoint(space, history, 3, 12, opts));
    expect(tpePoint(space, history, 3, 12, opts)).not.toEqual(tpePoint(space, history, 3, 13, opts));
    // before `startup` results it is the random sampler
    expect(tpePoint(space, history.slice(0, 5), 3, 5, opts)).toEqual(randomPoint(space, 3, 5));
  });

  it("finds better configurations than random search with the same budget (20 seeds x 40 trials)", () => {
    let tpeWins = 0;
    let tpeSum = 0;
    let randomSum = 0;
    for (let seed = 0; seed < 20; seed++) {
      const t = search("tpe", seed, 40);
      const r = search("random", seed, 40);
      tpeSum += t;
      randomSum += r;
      if (t > r) tpeWins += 1;
    }
    // mean best objective (0 is the optimum)
    expect(tpeSum / 20).toBeGreaterThan(randomSum / 20);
    expect(tpeWins).toBeGreaterThanOrEqual(13);
  });

  it("minimizes too: on a 1-d quadratic it samples near the minimum once it has results", () => {
    const s1: Space = [["x", { kind: "uniform", low: -10, high: 10 }]];
    const history: Observation[] = [];
    for (let i = 0; i < 30; i++) {
      const params = tpePoint(s1, history, 0, i, {
        goal: "minimize",
        startup: 6,
        candidates: 24,
        gamma: 0.25,
      });
      const x = params.x as number;
      history.push({ params, value: (x - 3) ** 2 });
    }
    const late = history.slice(20).map((h) => Math.abs((h.params.x as number) - 3));
    const early = history.slice(0, 6).map((h) => Math.abs((h.params.x as number) - 3));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(late)).toBeLessThan(mean(early));
    expect(Math.min(...history.map((h) => h.value))).toBeLessThan(0.1);
  });

  it("ranks pruned trials below completed ones, deeper pruned first", () => {
    const o = (value: number, pruned?: boolean, epochs?: number): Observation => ({
      params: {},
      value,
      ...(pruned ? { pruned, epochs } : {}),
    });
    const ranked = rankObservations([o(0.9, true, 1), o(0.5), o(0.7), o(0.95, true, 2)], "maximize");
    expect(ranked.map((r) => r.value)).toEqual([0.7, 0.5, 0.95, 0.9]);
  });

  it("Parzen density integrates to about 1 over its range", () => {
    const p = fitParzen([0.1, 0.2, 0.25, 0.8], 0, 1);
    let sum = 0;
    const n = 2000;
    for (let i = 0; i < n; i++) sum += Math.exp(parzenLogPdf(p, (i + 0.5) / n)) / n;
    expect(sum).toBeGreaterThan(0.98);
    expect(sum).toBeLessThan(1.02);
  });

  it("a categorical parameter goes to the value of the good trials", () => {
    const s: Space = [["c", { kind: "choice", values: ["a", "b", "c"] } satisfies Distribution]];
    const history: Observation[] = [];
    for (let i = 0; i < 12; i++)
      history.push({ params: { c: ["a", "b", "c"][i % 3] }, value: i % 3 === 1 ? 1 : 0 });
    const picks = Array.from(
      { length: 20 },
      (_, i) =>
        tpePoint(s, history, 0, 12 + i, { goal: "maximize", startup: 3, candidates: 24, gamma: 0.25 }).c,
    );
    expect(picks.filter((c) => c === "b").length).toBeGreaterThanOrEqual(18);
  });
});

describe("ASHA", () => {
  it("puts rungs at r * eta^k before the last epoch", () => {
    expect(rungEpochs(1, 2, 3)).toEqual([1, 2]);
    expect(rungEpochs(1, 3, 27)).toEqual([1, 3, 9]);
    expect(rungEpochs(2, 2, 9)).toEqual([2, 4, 8]);
    expect(rungEpochs(1, 2, 1)).toEqual([]);
  });
  it("percentile interpolates like numpy", () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([4, 1, 3, 2], 75)).toBe(3.25);
    expect(percentile([5], 90)).toBe(5);
  });
  it("the first trial at a rung continues; later ones need the top 1/eta", () => {
    expect(ashaDecision(0.1, [], 2, "maximize")).toEqual({ decision: "continue", cutoff: null });
    expect(ashaDecision(0.5, [0.6], 2, "maximize").decision).toBe("stop");
    expect(ashaDecision(0.7, [0.6], 2, "maximize").decision).toBe("continue");
    // eta = 3: cutoff is the 66.7th percentile of the others
    expect(ashaDecision(0.75, [0.5, 0.6, 0.7, 0.8], 3, "maximize")).toEqual({
      decision: "continue",
      cutoff: percentile([0.5, 0.6, 0.7, 0.8], 100 * (2 / 3)),
    });
    expect(ashaDecision(0.6, [0.5, 0.6, 0.7, 0.8], 3, "maximize").decision).toBe("stop");
    expect(ashaDecision(1.1, [1.0, 2.0, 3.0], 2, "minimize").decision).toBe("continue");
    expect(ashaDecision(2.5, [1.0, 2.0, 3.0], 2, "minimize").decision).toBe("stop");
    expect(ashaDecision(Number.NaN, [1], 2, "minimize").decision).toBe("stop");
  });
  it("stops about 1 - 1/eta of a stream of random trials at a rung", () => {
    let stopped = 0;
    const seen: number[] = [];
    let x = 12345;
    for (let i = 0; i < 400; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const v = x / 2 ** 31;
      if (ashaDecision(v, seen, 3, "maximize").decision === "stop") stopped += 1;
      seen.push(v);
    }
    expect(stopped / 400).toBeGreaterThan(0.55);
    expect(stopped / 400).toBeLessThan(0.75);
  });
});
