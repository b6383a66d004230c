/**
 * The search space of a sweep: one distribution per config path, and the two plain samplers
 * (grid: every combination in file order; random: independent draws, seeded per trial index so a
 * resumed sweep draws the same trial again).
 */
import { Rng } from "@selfsup/core";

export type Distribution =
  | { kind: "values"; values: unknown[] }
  | { kind: "choice"; values: unknown[] }
  | { kind: "uniform"; low: number; high: number }
  | { kind: "log_uniform"; low: number; high: number }
  | { kind: "int_uniform"; low: number; high: number };

/** Parameters in file order: [config path, distribution]. */
export type Space = ReadonlyArray<readonly [string, Distribution]>;

export type Params = Record<string, unknown>;

export function isCategorical(d: Distribution): d is Extract<Distribution, { values: unknown[] }> {
  return d.kind === "values" || d.kind === "choice";
}

/** How many configurations a grid over `space` has, or undefined if a parameter is continuous. */
export function gridSize(space: Space): number | undefined {
  let n = 1;
  for (const [, d] of space) {
    if (isCategorical(d)) n *= d.values.length;
    else if (d.kind === "int_uniform") n *= d.high - d.low + 1;
    else return undefined;
  }
  return n;
}

function gridValues(d: Distribution): unknown[] {
  if (isCategorical(d)) return d.values;
  if (d.kind === "int_uniform") return Array.from({ length: d.high - d.low + 1 }, (_, i) => d.low + i);
  throw new Error(`a grid needs values for every parameter, not ${d.kind}`);
}

/** The idx-th configuration of the grid (the last parameter varies fastest). */
export function gridPoint(space: Space, idx: number): Params {
  const out: Params = {};
  let rest = idx;
  for (let i = space.length - 1; i >= 0; i--) {
    const [path, d] = space[i] as readonly [string, Distribution];
    const vs = gridValues(d);
    out[path] = vs[rest % vs.length];
    rest = Math.floor(rest / vs.length);
  }
  // file order
  return Object.fromEntries(space.map(([p]) => [p, out[p]]));
}

/** A seed for trial `idx` of a sweep seeded `seed` (splitmix-style mixing, 32 bits). */
export function trialSeed(seed: number, idx: number, salt = 0): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  h = Math.imul(h ^ (idx + 0x7f4a7c15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13) ^ (salt * 0x27d4eb2d), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** One draw from a distribution. */
export function drawFrom(d: Distribution, rng: Rng): unknown {
  switch (d.kind) {
    case "values":
    case "choice":
      return d.values[rng.int(d.values.length)];
    case "uniform":
      return rng.uniform(d.low, d.high);
    case "log_uniform":
      return Math.exp(rng.uniform(Math.log(d.low), Math.log(d.high)));
    case "int_uniform":
      return d.low + rng.int(d.high - d.low + 1);
  }
}

/** The random sampler's trial `idx`: independent draws per parameter, a function of (seed, idx) only. */
export function randomPoint(space: Space, seed: number, idx: number): Params {
  const rng = new Rng(trialSeed(seed, idx));
  return Object.fromEntries(space.map(([path, d]) => [path, drawFrom(d, rng)]));
}

/** Stable text of a configuration, for de-duplication and grouping. */
export function paramsKey(params: Params): string {
  return JSON.stringify(Object.keys(params).map((k) => [k, params[k]]));
}
