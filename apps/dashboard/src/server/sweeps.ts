/**
 * GraphQL for sweeps (`sweep(id)`, `sweeps`): reads the sweep tables through the store's
 * SweepStore. One request reads a sweep's trials, runs and epoch values once (cached on the
 * request's context) however many of its fields are selected; the lists are bounded (200 sweeps,
 * 1,000 trials, 20 curves).
 */
import {
  MAX_SWEEP_PAGE,
  type Sweep as StoreSweep,
  SWEEP_STATUSES,
  type SweepEpochValue,
  type SweepStatus,
  SweepStore,
} from "@selfsup/store";
import { parameterImportance, rankTrials, trialCurve } from "../lib/sweep-stats";
import type { Context } from "./context";
import type { QueryResolvers, Resolvers } from "./generated/graphql";
import { badInput, checkRange } from "./limits";
import type { SweepTrialModel } from "./models";

export const MAX_TRIALS = 1000;
export const MAX_CURVES = 20;

interface Bundle {
  trials: SweepTrialModel[];
  values: SweepEpochValue[];
}

const bundles = new WeakMap<Context, Map<string, Promise<Bundle>>>();

function bundle(ctx: Context, sweep: StoreSweep): Promise<Bundle> {
  let m = bundles.get(ctx);
  if (!m) {
    m = new Map();
    bundles.set(ctx, m);
  }
  let b = m.get(sweep.id);
  if (!b) {
    const sweeps = new SweepStore(ctx.store.db);
    b = (async () => {
      const [trials, runs, values] = await Promise.all([
        sweeps.listTrials(sweep.id),
        sweeps.sweepRuns(sweep.id),
        sweeps.epochValues(sweep.id),
      ]);
      return {
        trials: trials.slice(0, MAX_TRIALS).map((t) => {
          const mine = runs.filter((r) => r.trialIdx === t.idx);
          return {
            ...t,
            runs: mine,
            configOf: async () => {
              const first = mine[0];
              return first ? ((await ctx.loaders.run.load(first.runId))?.config ?? null) : null;
            },
          };
        }),
        values,
      };
    })();
    m.set(sweep.id, b);
  }
  return b;
}

function parametersOf(
  sweep: StoreSweep,
): Array<{ path: string; kind: string; values: unknown; low: number | null; high: number | null }> {
  const params = (sweep.spec.parameters ?? {}) as Record<string, Record<string, unknown>>;
  return Object.entries(params).map(([path, p]) => {
    const kind = Object.keys(p).find((k) => p[k] !== undefined) ?? "values";
    const v = p[kind];
    const range = Array.isArray(v) && kind !== "values" && kind !== "choice" ? (v as number[]) : null;
    return {
      path,
      kind,
      values: kind === "values" || kind === "choice" ? v : null,
      low: range ? (range[0] ?? null) : null,
      high: range ? (range[1] ?? null) : null,
    };
  });
}

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

export const sweepQueryResolvers: Pick<QueryResolvers<Context>, "sweep" | "sweeps"> = {
  async sweep(_parent, { id }, ctx) {
    if (!ID_RE.test(id))
      throw badInput(
        `id: a sweep id or name, 1-64 characters (got ${JSON.stringify(id.slice(0, 80))})`,
        "id",
      );
    return new SweepStore(ctx.store.db).getSweep(id);
  },
  async sweeps(_parent, { first, status }, ctx) {
    const n = first ?? 50;
    checkRange("first", n, 1, MAX_SWEEP_PAGE);
    if (status != null && !SWEEP_STATUSES.includes(status as SweepStatus))
      throw badInput(`status: one of ${SWEEP_STATUSES.join(", ")} (got ${JSON.stringify(status)})`, "status");
    return new SweepStore(ctx.store.db).listSweeps({
      first: n,
      ...(status ? { status: status as SweepStatus } : {}),
    });
  },
};

export const sweepTypeResolvers: Pick<Resolvers<Context>, "Sweep" | "SweepTrial"> = {
  Sweep: {
    tag: (s) => `sweep:${s.name}`.slice(0, 64),
    plannedTrials: (s) => {
      const budget = (s.spec.budget ?? {}) as { trials?: number };
      if (budget.trials) return budget.trials;
      const params = parametersOf(s);
      return params.reduce((n, p) => n * (Array.isArray(p.values) ? p.values.length : 1), 1);
    },
    seeds: (s) => Number(s.spec.seeds ?? 1),
    trials: async (s, _a, ctx) => (await bundle(ctx, s)).trials,
    counts: async (s, _a, ctx) => {
      const counts = new Map<string, number>();
      for (const t of (await bundle(ctx, s)).trials) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
      return [...counts].map(([status, count]) => ({ status, count }));
    },
    best: async (s, _a, ctx) => {
      const ranked = rankTrials((await bundle(ctx, s)).trials, s.goal);
      return ranked.find((t) => t.status === "completed") ?? null;
    },
    parameters: (s) => parametersOf(s),
    importance: async (s, _a, ctx) =>
      parameterImportance(
        (await bundle(ctx, s)).trials,
        parametersOf(s).map((p) => p.path),
      ),
    curves: async (s, { top }, ctx) => {
      const n = top ?? 5;
      checkRange("top", n, 1, MAX_CURVES);
      const b = await bundle(ctx, s);
      return rankTrials(b.trials, s.goal)
        .slice(0, n)
        .map((t) => {
          const c = trialCurve(t.idx, b.values);
          return {
            trial: t.idx,
            params: t.params,
            value: t.value,
            epochs: c.epochs,
            mean: c.mean,
            std: c.std,
          };
        });
    },
  },
  SweepTrial: {
    runs: (t) => t.runs.map((r) => ({ id: r.runId, seed: r.seed, status: r.status })),
    config: (t) => t.configOf(),
  },
};
