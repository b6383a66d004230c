/**
 * Which evaluators a run's `eval` config asks for, looked up in the registry (core's built-ins or
 * a plugin's), and running them on an encoder.
 */
import type { Dataset, EvaluationResult, EvaluatorSpec, FeatureModule, Registry } from "@selfsup/core";
import { Rng } from "@selfsup/core";
import type { RunStore } from "@selfsup/store";
import type { RunConfig } from "../config.js";

/** Registry names tried for each protocol, first match wins. */
const NAMES: Record<"knn" | "linear" | "fewLabel", string[]> = {
  knn: ["knn"],
  linear: ["linear-probe"],
  fewLabel: ["few-label"],
};

export interface EvaluatorUse {
  spec: EvaluatorSpec;
  options: Record<string, unknown>;
}

function find(registry: Registry, protocol: keyof typeof NAMES): EvaluatorSpec | undefined {
  for (const name of NAMES[protocol])
    if (registry.has("evaluator", name)) return registry.get("evaluator", name);
  return undefined;
}

/** Only the option keys the evaluator's schema accepts (so a renamed option never breaks a run). */
function fitOptions(spec: EvaluatorSpec, wanted: Record<string, unknown>): Record<string, unknown> {
  const full = spec.options.safeParse(wanted);
  if (full.success) return wanted;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(wanted)) {
    if (spec.options.safeParse({ ...out, [k]: v }).success) out[k] = v;
  }
  return out;
}

/** The kNN evaluator for per-epoch tracking, if installed. */
export function knnEvaluator(registry: Registry): EvaluatorUse | undefined {
  const spec = find(registry, "knn");
  return spec ? { spec, options: {} } : undefined;
}

export interface PlannedEvaluators {
  uses: EvaluatorUse[];
  /** Protocols asked for whose evaluator is not installed. */
  missing: string[];
}

/** The evaluators to run when training ends. */
export function finalEvaluators(registry: Registry, cfg: RunConfig["eval"]): PlannedEvaluators {
  const uses: EvaluatorUse[] = [];
  const missing: string[] = [];
  const add = (protocol: keyof typeof NAMES, wanted: Record<string, unknown>) => {
    const spec = find(registry, protocol);
    if (spec) uses.push({ spec, options: fitOptions(spec, wanted) });
    else missing.push(protocol);
  };
  if (cfg.knn) add("knn", {});
  if (cfg.linear) add("linear", {});
  if (cfg.fewLabel.labelsPerClass.length > 0) {
    add("fewLabel", { labelsPerClass: cfg.fewLabel.labelsPerClass, seeds: cfg.fewLabel.seeds });
  }
  return { uses, missing };
}

export async function runEvaluators(
  uses: EvaluatorUse[],
  ctx: { encoder: FeatureModule; dataset: Dataset; seed: number; batchSize: number },
): Promise<EvaluationResult[]> {
  const results: EvaluationResult[] = [];
  const wasTraining = ctx.encoder.training;
  try {
    for (const use of uses) {
      const options = use.spec.options.parse(use.options);
      const rng = new Rng((ctx.seed * 1_000_003 + 7) >>> 0);
      results.push(
        ...(await use.spec.evaluate(options, {
          encoder: ctx.encoder,
          dataset: ctx.dataset,
          rng,
          batchSize: ctx.batchSize,
        })),
      );
    }
  } finally {
    ctx.encoder.train(wasTraining);
  }
  return results;
}

/** Summary key of an evaluation: knn_top1, linear_top1, few-label_top1_10pc. */
export function evaluationKey(r: EvaluationResult): string {
  return `${r.protocol}_${r.metric}${r.labelsPerClass !== undefined ? `_${r.labelsPerClass}pc` : ""}`;
}

/**
 * Stores evaluation results as the run's evaluations (the leaderboard): one row per seed when the
 * evaluator reports per-seed values, else one row. Used at the end of a run and by `selfsup eval`.
 */
export async function storeEvaluations(
  store: RunStore,
  runId: string,
  results: readonly EvaluationResult[],
): Promise<void> {
  for (const r of results) {
    for (const row of r.perSeed ?? [{ seed: 0, value: r.value }]) {
      await store.addEvaluation({
        runId,
        protocol: r.protocol,
        labelsPerClass: r.labelsPerClass ?? null,
        seed: row.seed,
        metric: r.metric,
        value: row.value,
      });
    }
  }
}
