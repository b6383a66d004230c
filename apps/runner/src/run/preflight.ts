/**
 * Checks made before the first training step (and by `--dry-run`), so that a run that cannot
 * finish fails in a second with a clear message instead of after an epoch, and no run row is
 * created for it: the batch fits the dataset, every evaluator the config asks for can run on
 * this dataset (a test split, labels), the method builds with this backbone on this input, the
 * augmentation pipeline builds, the first sample loads, and one real training step runs.
 */
import {
  buildPipeline,
  type ContributionKind,
  type Dataset,
  labelledSplits,
  makeViews,
  type Registry,
  Trainer,
} from "@selfsup/core";
import { ConfigError, type ResolvedRunConfig, type RunConfig } from "../config.js";
import { augmentationSteps, buildMethod } from "./build.js";
import { finalEvaluators, knnEvaluator } from "./evaluate.js";

/** Raised when a run config cannot train on its dataset; lists every problem found. */
export class PreflightError extends ConfigError {
  override name = "PreflightError";
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The evaluators a run will use, checked against the dataset (no model needed). */
export function evaluatorProblems(registry: Registry, cfg: ResolvedRunConfig, dataset: Dataset): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  if (cfg.eval.knn && cfg.eval.everyEpochs > 0) {
    const knn = knnEvaluator(registry);
    if (knn) names.add(knn.spec.name);
  }
  for (const use of finalEvaluators(registry, cfg.eval).uses) names.add(use.spec.name);
  for (const name of names) {
    try {
      labelledSplits(dataset, name);
    } catch (err) {
      problems.push(
        `eval: ${message(err)}; turn it off (eval.knn=false, eval.linear=false, eval.fewLabel.labelsPerClass=[]) or use a dataset with one`,
      );
    }
  }
  return problems;
}

/** Every check; throws a PreflightError listing all problems found. */
export async function preflight(registry: Registry, cfg: ResolvedRunConfig, dataset: Dataset): Promise<void> {
  const problems: string[] = [];
  const perStep = cfg.training.batchSize * cfg.training.accumulate;
  if (dataset.train.size < 2) {
    // The smallest batch is 2 (BatchNorm statistics, pairs of views): "a batch of at most 1" would not help.
    problems.push(
      `dataset "${cfg.dataset.name}"${cfg.dataset.limit !== undefined ? ` (--limit ${cfg.dataset.limit})` : ""} has ${dataset.train.size} training sample${dataset.train.size === 1 ? "" : "s"}; training needs at least 2 (the smallest batch is 2)`,
    );
  } else if (perStep > dataset.train.size) {
    problems.push(
      `training.batchSize: ${cfg.training.batchSize}${cfg.training.accumulate > 1 ? ` x accumulate ${cfg.training.accumulate}` : ""} is more than the ${dataset.train.size} training samples of dataset "${cfg.dataset.name}"${cfg.dataset.limit !== undefined ? ` (--limit ${cfg.dataset.limit})` : ""}; use a batch of at most ${dataset.train.size}`,
    );
  }
  problems.push(...evaluatorProblems(registry, cfg, dataset));
  try {
    const method = buildMethod(registry, cfg, dataset.input);
    try {
      buildPipeline(registry, augmentationSteps(cfg, method, dataset.input));
    } catch (err) {
      problems.push(`augmentations: ${message(err)}`);
    } finally {
      method.dispose();
    }
  } catch (err) {
    problems.push(
      `method "${cfg.method.name}" with backbone "${cfg.backbone?.name ?? "?"}": ${message(err)}`,
    );
  }
  if (dataset.train.size > 0) {
    try {
      await dataset.train.get(0);
    } catch (err) {
      problems.push(
        `dataset "${cfg.dataset.name}": the first training sample does not load: ${message(err)}`,
      );
    }
  }
  if (problems.length === 0) problems.push(...(await firstStepProblems(registry, cfg, dataset)));
  if (problems.length > 0) throw new PreflightError(`this run cannot train:\n  ${problems.join("\n  ")}`);
}

/** Samples the trial step trains on (fewer when the run's batch or the dataset is smaller). */
const TRIAL_BATCH = 4;

/**
 * One real training step on a throwaway copy of the method, on the run's first few samples with
 * its augmentations: what fails only once a step runs (rotation of non-square images, a mask
 * ratio that leaves no patch visible) fails here, before a run row exists and under --dry-run;
 * and a first loss of exactly 0 (a mask ratio that masks no patch) means there is nothing to learn.
 */
export async function firstStepProblems(
  registry: Registry,
  cfg: ResolvedRunConfig,
  dataset: Dataset,
): Promise<string[]> {
  const n = Math.min(cfg.training.batchSize, dataset.train.size, TRIAL_BATCH);
  if (n < 1) return [];
  const train = dataset.train;
  const sample: Dataset = {
    name: dataset.name,
    input: dataset.input,
    train: { size: n, get: (i) => train.get(i) },
  };
  let method: ReturnType<typeof buildMethod> | undefined;
  try {
    method = buildMethod(registry, cfg, dataset.input);
    const pipeline = buildPipeline(registry, augmentationSteps(cfg, method, dataset.input));
    const trainer = new Trainer({
      method,
      dataset: sample,
      config: { ...cfg.training, epochs: 1, maxSteps: 1, batchSize: n, accumulate: 1 },
      augment: (x, views, rng) => makeViews(pipeline, x, views, rng),
    });
    const fit = await trainer.fit();
    const loss = fit.losses[0];
    if (loss === undefined) return [];
    if (!Number.isFinite(loss))
      return [`the first training step (batch ${n}) gives a loss of ${loss}; check the method's options`];
    if (loss === 0)
      return [
        `the first training step (batch ${n}) gives a loss of exactly 0: nothing to learn; check the method's options (e.g. a mask ratio that masks no patch)`,
      ];
    return [];
  } catch (err) {
    return [`the first training step (batch ${n}) fails: ${message(err)}`];
  } finally {
    method?.dispose();
  }
}

/**
 * Option keys a plugin's schema does not know. Plugin schemas that are not strict drop unknown
 * keys silently, so a typo (`temprature`) would train with the default; this names it instead.
 * Checks the config as written (before its options are parsed).
 */
export function unknownOptionProblems(registry: Registry, config: RunConfig): string[] {
  const problems: string[] = [];
  const check = (
    kind: ContributionKind,
    name: string,
    given: Record<string, unknown> | undefined,
    at: string,
  ) => {
    if (!given || !registry.has(kind, name)) return;
    // Duck-typed: a plugin may bring its own copy of zod, so `instanceof z.ZodObject` can miss.
    const schema = registry.get(kind, name).options as {
      _zod?: { def?: { type?: string; catchall?: unknown } };
      shape?: unknown;
    };
    const def = schema._zod?.def;
    if (
      def?.type !== "object" ||
      def.catchall !== undefined ||
      typeof schema.shape !== "object" ||
      !schema.shape
    )
      return; // strict objects (catchall never) report unknown keys themselves
    const known = Object.keys(schema.shape);
    for (const key of Object.keys(given)) {
      if (!known.includes(key))
        problems.push(
          `${at}: unknown option ${JSON.stringify(key)} of ${kind} "${name}"; its options: ${known.join(", ") || "(none)"}`,
        );
    }
  };
  check("method", config.method.name, config.method.options, "method.options");
  if (config.backbone) check("backbone", config.backbone.name, config.backbone.options, "backbone.options");
  check("dataset", config.dataset.name, config.dataset.options, "dataset.options");
  (config.augmentations ?? []).forEach((a, i) => {
    check("augmentation", a.name, a.options, `augmentations.${i}.options`);
  });
  return problems;
}
