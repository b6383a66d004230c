/**
 * What a sweep adds to one of its runs while it trains, wherever it runs (a local `sweep trial`
 * process or a `selfsup worker`): at each epoch end the run records the sweep metric in
 * `sweep_epoch_values`, and at an ASHA rung it compares its trial's value (mean over the seeds
 * that reached the rung) with the other trials' at that rung and records the decision. The first
 * seed at a rung decides for the trial; a stop is recorded once and every seed of the trial,
 * including ones that start or resume later, stops at its next epoch end (or at once if it has not
 * started). A stopped run ends as `cancelled` with its checkpoints kept, tagged `pruned`.
 */
import type { TrainerCallback } from "@selfsup/core";
import { type RunStore, type Sweep, SweepStore } from "@selfsup/store";
import { parseStoredRunConfig } from "../config.js";
import { ashaDecision, rungEpochs } from "./asha.js";
import type { SweepFile } from "./spec.js";

export const PRUNED_TAG = "pruned";

export interface TrialHooks {
  sweep: Sweep;
  trialIdx: number;
  callbacks: TrainerCallback[];
  /** Fires when ASHA stopped this trial: pass it as executeRun's `cancelSignal`. */
  cancelSignal: AbortSignal;
  pruned(): boolean;
}

/** Mean of each trial's values (trials with at least one value). */
export function trialMeans(values: ReadonlyArray<{ trialIdx: number; value: number }>): Map<number, number> {
  const sums = new Map<number, { s: number; n: number }>();
  for (const v of values) {
    const e = sums.get(v.trialIdx) ?? { s: 0, n: 0 };
    e.s += v.value;
    e.n += 1;
    sums.set(v.trialIdx, e);
  }
  return new Map([...sums].map(([k, e]) => [k, e.s / e.n]));
}

/** The hooks for `runId` if it belongs to a sweep, else undefined (a plain run). */
export async function sweepTrialHooks(store: RunStore, runId: string): Promise<TrialHooks | undefined> {
  const sweeps = new SweepStore(store.db);
  const link = await sweeps.runLink(runId);
  if (!link) return undefined;
  const sweep = await sweeps.getSweep(link.sweepId);
  const run = await store.getRun(runId);
  if (!sweep || !run) return undefined;
  const spec = sweep.spec as unknown as SweepFile;
  const metric = sweep.metric;
  const goal = sweep.goal;
  let epochs = 1;
  try {
    epochs = parseStoredRunConfig(run.config, runId).training.epochs;
  } catch {
    // executeRun reports a bad stored config itself
  }
  const asha = spec.early_stop;
  const rungs = asha ? rungEpochs(asha.min_epochs, asha.reduction_factor, epochs) : [];
  const controller = new AbortController();
  let pruned = false;
  const prune = async (at: number | null) => {
    if (pruned) return;
    pruned = true;
    await store.addTag(runId, PRUNED_TAG).catch(() => {});
    if (at !== null)
      await sweeps.updateTrial(sweep.id, link.trialIdx, { status: "pruned", prunedAt: at }).catch(() => {});
    controller.abort("pruned");
  };
  const stoppedAt = async (): Promise<number | null> => {
    const ds = await sweeps.rungDecisions(sweep.id);
    const stop = ds.find((d) => d.trialIdx === link.trialIdx && d.decision === "stop");
    return stop ? stop.rung : null;
  };

  let last: number | undefined;
  const callback: TrainerCallback = {
    async onTrainStart() {
      const at = await stoppedAt();
      if (at !== null) await prune(null);
    },
    onMetrics(_step, metrics) {
      const v = metrics[metric];
      if (typeof v === "number" && Number.isFinite(v)) last = v;
    },
    async onEpochEnd(epoch) {
      const done = epoch + 1;
      const value = last;
      last = undefined;
      if (value === undefined) return;
      await sweeps.recordEpochValue(runId, done, value);
      if (pruned) return;
      if ((await stoppedAt()) !== null) {
        await prune(null);
        return;
      }
      if (!rungs.includes(done) || !asha) return;
      const means = trialMeans(await sweeps.epochValues(sweep.id, done));
      const mine = means.get(link.trialIdx) ?? value;
      const others = [...means].filter(([t]) => t !== link.trialIdx).map(([, v]) => v);
      const verdict = ashaDecision(mine, others, asha.reduction_factor, goal);
      const d = await sweeps.decideRung({
        sweepId: sweep.id,
        trialIdx: link.trialIdx,
        rung: done,
        decision: verdict.decision,
        value: mine,
        cutoff: verdict.cutoff,
      });
      if (d.decision === "stop") await prune(done);
    },
  };
  return {
    sweep,
    trialIdx: link.trialIdx,
    callbacks: [callback],
    cancelSignal: controller.signal,
    pruned: () => pruned,
  };
}
