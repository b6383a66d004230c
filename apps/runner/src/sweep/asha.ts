/**
 * Asynchronous successive halving (ASHA; Li et al. 2020, "A System for Massively Parallel
 * Hyperparameter Tuning", MLSys), in its stopping form (as Ray Tune's ASHAScheduler and Optuna's
 * SuccessiveHalvingPruner): rungs at epochs r·η^k (r = min_epochs, η = reduction_factor) before
 * the last epoch; when a trial reaches a rung it continues only if its metric is in the top 1/η of
 * the values recorded at that rung so far, otherwise it stops there. Decisions never wait for other
 * trials (asynchronous): the first trial at a rung always continues, and later ones compete against
 * whatever is recorded. A stopped trial is not resumed later (the paper's promotion variant would
 * restart it; with epochs this short the stopping form wastes less).
 */

/** Rung epochs (1-based epochs completed) strictly before `maxEpochs`. */
export function rungEpochs(minEpochs: number, reductionFactor: number, maxEpochs: number): number[] {
  if (minEpochs < 1 || reductionFactor < 2)
    throw new Error("rungs need min_epochs >= 1 and reduction_factor >= 2");
  const out: number[] = [];
  for (let r = minEpochs; r < maxEpochs; r *= reductionFactor) out.push(r);
  return out;
}

/** Linear-interpolated percentile (numpy's default), p in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  const xs = [...values].sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const pos = (p / 100) * (xs.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = xs[lo] as number;
  const b = xs[hi] as number;
  return a + (b - a) * (pos - lo);
}

export interface RungVerdict {
  decision: "continue" | "stop";
  /** The value a trial had to reach (null when nothing was recorded at the rung yet). */
  cutoff: number | null;
}

/**
 * ASHA's decision for a trial with `value` at a rung where `others` (the other trials' values at
 * that rung) are recorded: continue iff value is at least the (1 - 1/η) quantile of `others`
 * (maximize; the 1/η quantile and at most, to minimize).
 */
export function ashaDecision(
  value: number,
  others: readonly number[],
  reductionFactor: number,
  goal: "maximize" | "minimize",
): RungVerdict {
  const finite = others.filter(Number.isFinite);
  if (!Number.isFinite(value))
    return { decision: "stop", cutoff: finite.length ? percentile(finite, 50) : null };
  if (finite.length === 0) return { decision: "continue", cutoff: null };
  const q = goal === "maximize" ? 100 * (1 - 1 / reductionFactor) : 100 / reductionFactor;
  const cutoff = percentile(finite, q);
  const ok = goal === "maximize" ? value >= cutoff : value <= cutoff;
  return { decision: ok ? "continue" : "stop", cutoff };
}
