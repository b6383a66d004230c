/** The next configuration of a sweep, by its search: grid, random or TPE (see space.ts, tpe.ts). */
import { gridPoint, type Params, randomPoint } from "./space.js";
import type { SweepPlan } from "./spec.js";
import { type Observation, tpePoint } from "./tpe.js";

/** Trial `idx`'s parameters, given the results so far (TPE reads them; grid and random do not). */
export function nextParams(plan: SweepPlan, idx: number, history: readonly Observation[]): Params {
  const { spec, space } = plan;
  if (spec.search === "grid") return gridPoint(space, idx);
  if (spec.search === "random") return randomPoint(space, spec.seed, idx);
  return tpePoint(space, history, spec.seed, idx, { goal: spec.metric.goal, ...plan.tpe });
}
