/**
 * Tree-structured Parzen Estimator (Bergstra, Bardenet, Bengio, Kégl 2011, "Algorithms for
 * Hyper-Parameter Optimization", section 4), univariate as in the paper and hyperopt:
 *
 * - The observed trials are split at the γ-quantile of the objective: the best ⌈γ·n⌉ are "good",
 *   the rest "bad" (a pruned trial always ranks below every completed one: deeper rungs first,
 *   then by its last value).
 * - Per parameter, l(x) is a density fitted to the good trials' values and g(x) to the bad ones':
 *   for a numeric parameter an adaptive Parzen window (a Gaussian at each observation, in log space
 *   for log_uniform, with width = the larger gap to its sorted neighbours, clipped to
 *   [range / min(100, n + 1), range], plus a prior Gaussian at the centre of width = range), each
 *   truncated to the range; for a categorical one the observed frequencies plus one prior count each.
 * - `candidates` values are drawn from l(x) and the one maximising l(x) / g(x) (the expected
 *   improvement, eq. 17 of the paper) is taken.
 *
 * Until `startup` trials have a result, trials are drawn at random (the same draws as `search:
 * random`). Everything is seeded by (sweep seed, trial index), so the same history gives the same
 * next trial.
 */
import { Rng } from "@selfsup/core";
import {
  type Distribution,
  drawFrom,
  isCategorical,
  type Params,
  randomPoint,
  type Space,
  trialSeed,
} from "./space.js";

export interface Observation {
  params: Params;
  /** The metric (at the trial's last epoch reached). */
  value: number;
  /** A trial ASHA stopped early ranks below the completed ones. */
  pruned?: boolean;
  /** Epochs reached (deeper pruned trials rank above shallower ones). */
  epochs?: number;
}

export interface TpeOptions {
  goal: "maximize" | "minimize";
  /** Trials drawn at random before TPE takes over (default 10, at most a quarter of the budget, at least 3). */
  startup: number;
  /** Candidates drawn from l(x) per parameter (default 24, as hyperopt). */
  candidates: number;
  /** Fraction of observations in the "good" group (default 0.25). */
  gamma: number;
}

export function defaultStartup(trials: number): number {
  return Math.max(3, Math.min(10, Math.ceil(trials / 4)));
}

/** Ranks observations best first: completed before pruned, deeper pruned first, then by value. */
export function rankObservations(obs: readonly Observation[], goal: "maximize" | "minimize"): Observation[] {
  const sign = goal === "maximize" ? -1 : 1;
  return [...obs].sort((a, b) => {
    const pa = a.pruned ? 1 : 0;
    const pb = b.pruned ? 1 : 0;
    if (pa !== pb) return pa - pb;
    if (a.pruned && b.pruned && (a.epochs ?? 0) !== (b.epochs ?? 0)) return (b.epochs ?? 0) - (a.epochs ?? 0);
    return sign * (a.value - b.value);
  });
}

// ---------------------------------------------------------------- numeric Parzen estimator

function erf(x: number): number {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
  const s = x < 0 ? -1 : 1;
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return s * y;
}
const normCdf = (z: number) => 0.5 * (1 + erf(z / Math.SQRT2));

interface Parzen {
  mus: number[];
  sigmas: number[];
  /** Probability mass of each component inside [low, high]. */
  mass: number[];
  low: number;
  high: number;
}

/** Adaptive Parzen estimator over [low, high] (hyperopt's `adaptive_parzen_normal`). */
export function fitParzen(values: readonly number[], low: number, high: number): Parzen {
  const range = high - low;
  const prior = (low + high) / 2;
  const mus = [...values, prior].sort((a, b) => a - b);
  const n = values.length;
  const minSigma = range / Math.min(100, n + 1);
  const sigmas = mus.map((m, i) => {
    const left = i > 0 ? m - (mus[i - 1] as number) : m - low;
    const right = i < mus.length - 1 ? (mus[i + 1] as number) - m : high - m;
    return Math.min(range, Math.max(minSigma, left, right));
  });
  // the prior component is always as wide as the range
  const pi = mus.indexOf(prior);
  sigmas[pi] = range;
  const mass = mus.map((m, i) => {
    const s = sigmas[i] as number;
    return Math.max(1e-12, normCdf((high - m) / s) - normCdf((low - m) / s));
  });
  return { mus, sigmas, mass, low, high };
}

export function parzenLogPdf(p: Parzen, x: number): number {
  const k = p.mus.length;
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const s = p.sigmas[i] as number;
    const z = (x - (p.mus[i] as number)) / s;
    sum += Math.exp(-0.5 * z * z) / (s * Math.sqrt(2 * Math.PI) * (p.mass[i] as number));
  }
  return Math.log(Math.max(sum / k, 1e-300));
}

export function parzenSample(p: Parzen, rng: Rng): number {
  const i = rng.int(p.mus.length);
  const mu = p.mus[i] as number;
  const s = p.sigmas[i] as number;
  for (let t = 0; t < 100; t++) {
    const x = mu + s * rng.normal();
    if (x >= p.low && x <= p.high) return x;
  }
  return Math.min(p.high, Math.max(p.low, mu));
}

// ---------------------------------------------------------------- per parameter

type Numeric = Exclude<Distribution, { values: unknown[] }>;

function toInternal(d: Numeric, v: number): number {
  return d.kind === "log_uniform" ? Math.log(v) : v;
}
function bounds(d: Numeric): [number, number] {
  if (d.kind === "log_uniform") return [Math.log(d.low), Math.log(d.high)];
  if (d.kind === "int_uniform") return [d.low - 0.5, d.high + 0.5];
  return [d.low, d.high];
}
function fromInternal(d: Numeric, x: number): number {
  if (d.kind === "log_uniform") return Math.min(d.high, Math.max(d.low, Math.exp(x)));
  if (d.kind === "int_uniform") return Math.min(d.high, Math.max(d.low, Math.round(x)));
  return x;
}

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function suggestCategorical(
  values: unknown[],
  good: unknown[],
  bad: unknown[],
  rng: Rng,
  candidates: number,
): unknown {
  const weights = (obs: unknown[]) => {
    const w = values.map(() => 1);
    for (const o of obs) {
      const i = values.findIndex((v) => sameValue(v, o));
      if (i >= 0) w[i] = (w[i] as number) + 1;
    }
    const total = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / total);
  };
  const l = weights(good);
  const g = weights(bad);
  let best = 0;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < candidates; c++) {
    // draw from l
    let u = rng.next();
    let i = 0;
    while (i < l.length - 1 && u >= (l[i] as number)) {
      u -= l[i] as number;
      i++;
    }
    const score = Math.log(l[i] as number) - Math.log(g[i] as number);
    if (score > bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return values[best];
}

function suggestNumeric(d: Numeric, good: number[], bad: number[], rng: Rng, candidates: number): number {
  const [low, high] = bounds(d);
  const l = fitParzen(
    good.map((v) => toInternal(d, v)),
    low,
    high,
  );
  const g = fitParzen(
    bad.map((v) => toInternal(d, v)),
    low,
    high,
  );
  let best = parzenSample(l, rng);
  let bestScore = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < candidates; c++) {
    const x = parzenSample(l, rng);
    const score = parzenLogPdf(l, x) - parzenLogPdf(g, x);
    if (score > bestScore) {
      bestScore = score;
      best = x;
    }
  }
  return fromInternal(d, best);
}

/**
 * TPE's trial `idx`, given the results so far. Observations whose value is not finite are ignored;
 * with fewer than `startup` of them the trial is the random sampler's.
 */
export function tpePoint(
  space: Space,
  history: readonly Observation[],
  seed: number,
  idx: number,
  opts: TpeOptions,
): Params {
  const obs = history.filter((o) => Number.isFinite(o.value));
  if (obs.length < opts.startup) return randomPoint(space, seed, idx);
  const ranked = rankObservations(obs, opts.goal);
  const nGood = Math.max(1, Math.ceil(opts.gamma * ranked.length));
  const good = ranked.slice(0, nGood);
  const bad = ranked.slice(nGood);
  const out: Params = {};
  space.forEach(([path, d], j) => {
    const rng = new Rng(trialSeed(seed, idx, j + 1));
    const goodValues = good.map((o) => o.params[path]).filter((v) => v !== undefined);
    const badValues = bad.map((o) => o.params[path]).filter((v) => v !== undefined);
    if (isCategorical(d))
      out[path] = suggestCategorical(d.values, goodValues, badValues, rng, opts.candidates);
    else {
      const num = (vs: unknown[]) =>
        vs.filter(
          (v): v is number =>
            typeof v === "number" && Number.isFinite(v) && (d.kind !== "log_uniform" || v > 0),
        );
      if (goodValues.length === 0) out[path] = drawFrom(d, rng);
      else out[path] = suggestNumeric(d, num(goodValues), num(badValues), rng, opts.candidates);
    }
  });
  return out;
}
