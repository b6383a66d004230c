/**
 * Figures of a sweep's page, computed from its trials (pure functions, shared by the GraphQL
 * resolvers and tests):
 *
 * - parameter importance, two estimates per parameter over the trials with a value:
 *   `spearman`, the rank correlation of the parameter (numeric, or a categorical whose values are
 *   numbers) with the metric (sign = direction); and `variance`, the share of the metric's variance
 *   explained by the parameter alone (η², the correlation ratio: between-group variance / total
 *   variance, groups being the categories or, for a continuous parameter, 4 quantile bins). η² is
 *   fANOVA's first-order (main-effect) share estimated by binning the trials themselves instead of
 *   through a fitted random forest: cheap, and honest about how few trials a sweep has;
 * - learning curves: the metric per epoch of a configuration, mean and standard deviation over its
 *   seeds, for the best configurations.
 */

export interface TrialLike {
  idx: number;
  params: Record<string, unknown>;
  status: string;
  value: number | null;
}

export interface ParameterImportance {
  path: string;
  spearman: number | null;
  variance: number | null;
  /** Trials the estimates used. */
  n: number;
}

/** Average ranks (ties share the mean of their positions), 1-based. */
export function ranks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0]);
  const out = new Array<number>(xs.length);
  let i = 0;
  while (i < order.length) {
    let j = i;
    while (
      j + 1 < order.length &&
      (order[j + 1] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0]
    )
      j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) out[(order[k] as readonly [number, number])[1]] = r;
    i = j + 1;
  }
  return out;
}

function pearson(xs: readonly number[], ys: readonly number[]): number | null {
  const n = xs.length;
  if (n < 3) return null;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = (xs[i] as number) - mx;
    const dy = (ys[i] as number) - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

/** Spearman's rank correlation (null with fewer than 3 points or no spread). */
export function spearman(xs: readonly number[], ys: readonly number[]): number | null {
  return pearson(ranks(xs), ranks(ys));
}

/** η²: between-group sum of squares / total sum of squares (null without spread or with one group). */
export function etaSquared(groups: ReadonlyArray<readonly number[]>): number | null {
  const all = groups.flat();
  if (all.length < 3 || groups.filter((g) => g.length > 0).length < 2) return null;
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const total = all.reduce((a, b) => a + (b - mean) ** 2, 0);
  if (total === 0) return null;
  let between = 0;
  for (const g of groups) {
    if (g.length === 0) continue;
    const m = g.reduce((a, b) => a + b, 0) / g.length;
    between += g.length * (m - mean) ** 2;
  }
  return between / total;
}

/** Importance of each parameter over the trials that have a value (completed or pruned). */
export function parameterImportance(
  trials: readonly TrialLike[],
  paths: readonly string[],
): ParameterImportance[] {
  const scored = trials.filter((t) => t.value !== null && Number.isFinite(t.value));
  return paths.map((path) => {
    const pts = scored.filter((t) => t.params[path] !== undefined);
    const ys = pts.map((t) => t.value as number);
    const raw = pts.map((t) => t.params[path]);
    const numeric = raw.every((v) => typeof v === "number" && Number.isFinite(v));
    const rho = numeric ? spearman(raw as number[], ys) : null;
    let groups: number[][];
    const distinct = new Set(raw.map((v) => JSON.stringify(v)));
    if (!numeric || distinct.size <= 6) {
      const by = new Map<string, number[]>();
      raw.forEach((v, i) => {
        const k = JSON.stringify(v);
        by.set(k, [...(by.get(k) ?? []), ys[i] as number]);
      });
      groups = [...by.values()];
    } else {
      const r = ranks(raw as number[]);
      groups = [[], [], [], []];
      r.forEach((rank, i) => {
        (groups[Math.min(3, Math.floor(((rank - 1) / r.length) * 4))] as number[]).push(ys[i] as number);
      });
    }
    return { path, spearman: rho, variance: etaSquared(groups), n: pts.length };
  });
}

export interface EpochValueLike {
  trialIdx: number;
  seed: number;
  epoch: number;
  value: number;
}

export interface Curve {
  trial: number;
  epochs: number[];
  mean: number[];
  std: number[];
  /** Seeds behind each epoch's figure. */
  seeds: number[];
}

/** Mean ± std over seeds per epoch of one trial (sample std; 0 with one seed). */
export function trialCurve(trial: number, values: readonly EpochValueLike[]): Curve {
  const byEpoch = new Map<number, number[]>();
  for (const v of values)
    if (v.trialIdx === trial) byEpoch.set(v.epoch, [...(byEpoch.get(v.epoch) ?? []), v.value]);
  const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
  const mean: number[] = [];
  const std: number[] = [];
  const seeds: number[] = [];
  for (const e of epochs) {
    const xs = byEpoch.get(e) as number[];
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    mean.push(m);
    std.push(xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0);
    seeds.push(xs.length);
  }
  return { trial, epochs, mean, std, seeds };
}

/** The trials with a value, best first (completed before pruned). */
export function rankTrials<T extends TrialLike>(trials: readonly T[], goal: "maximize" | "minimize"): T[] {
  const sign = goal === "maximize" ? -1 : 1;
  return trials
    .filter((t) => t.value !== null && Number.isFinite(t.value))
    .sort((a, b) => {
      const pa = a.status === "completed" ? 0 : 1;
      const pb = b.status === "completed" ? 0 : 1;
      if (pa !== pb) return pa - pb;
      return sign * ((a.value as number) - (b.value as number));
    });
}
