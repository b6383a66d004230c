/**
 * `selfsup eval <run | checkpoint dir>`: evaluates a run's encoder (its latest, best or a given
 * checkpoint) with kNN, a linear probe and/or the few-label protocol, and stores the results as
 * the run's evaluations (unless --no-save).
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { initBackend, Trainer } from "@selfsup/core";
import type { RunStore } from "@selfsup/store";
import { parseStoredRunConfig, type RunConfig } from "../config.js";
import { CliError, EXIT } from "../exit-codes.js";
import { fmtNum } from "../progress/reporters.js";
import { buildMethod } from "../run/build.js";
import { loadDataset } from "../run/dataset.js";
import { evaluationKey, finalEvaluators, runEvaluators, storeEvaluations } from "../run/evaluate.js";
import { findRun } from "../run/find-run.js";
import { resumableCheckpoint } from "../run/resume.js";
import { openRunnerStore } from "../store.js";
import { table } from "./runs.js";
import { registryWithWarnings, resolveOrThrow } from "./train.js";

export interface EvalOptions {
  checkpoint?: string;
  protocol?: string[];
  labelsPerClass?: string;
  seeds?: string;
  dataset?: string;
  limit?: string;
  batchSize?: string;
  save?: boolean;
  json?: boolean;
}

const PROTOCOLS = ["knn", "linear", "few-label"] as const;

function intList(value: string | undefined, flag: string): number[] | undefined {
  if (value === undefined) return undefined;
  const out = value.split(",").map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new CliError(
      `${flag}: expected comma-separated integers, e.g. 1,10,100 (got ${JSON.stringify(value)})`,
      EXIT.usage,
    );
  }
  return out;
}

/** `<home>/runs/<id>/checkpoints/step-N` or `<home>/runs/<id>` -> the run id. */
function runIdFromPath(p: string): string | undefined {
  const parts = path.resolve(p).split(path.sep);
  const i = parts.lastIndexOf("runs");
  return i >= 0 ? parts[i + 1] : undefined;
}

async function pickCheckpoint(
  store: RunStore,
  runId: string,
  which: string | undefined,
): Promise<string | undefined> {
  if (which === undefined || which === "latest") {
    const ckpt = await resumableCheckpoint(store, runId, {
      onSkip: (k) => process.stderr.write(`warning: checkpoint at step ${k.step} skipped: ${k.reason}\n`),
    });
    return ckpt?.path;
  }
  if (which === "best") {
    const best = await store.latestCheckpoint(runId, "best");
    if (best && existsSync(path.join(best.path, "manifest.json"))) return best.path;
    throw new CliError(`run ${runId} has no best checkpoint on disk; use --checkpoint latest`, EXIT.usage);
  }
  if (existsSync(path.join(which, "manifest.json"))) return path.resolve(which);
  throw new CliError(
    `--checkpoint: ${which} is not a checkpoint directory (no manifest.json); use latest, best or a step-XXXXXXXX directory`,
    EXIT.usage,
  );
}

export async function evalCommand(target: string, opts: EvalOptions): Promise<number> {
  const protocols = (opts.protocol ?? ["knn"]).flatMap((p) => p.split(",")).map((p) => p.trim());
  for (const p of protocols) {
    if (!(PROTOCOLS as readonly string[]).includes(p))
      throw new CliError(
        `--protocol: unknown protocol ${JSON.stringify(p)}; allowed: ${PROTOCOLS.join(", ")}`,
        EXIT.usage,
      );
  }
  const labelsPerClass = intList(opts.labelsPerClass, "--labels-per-class") ?? [1, 10];
  const seeds = intList(opts.seeds, "--seeds") ?? [0, 1, 2];

  let checkpointArg = opts.checkpoint;
  let runRef = target;
  if (existsSync(target) && statSync(target).isDirectory()) {
    const id = runIdFromPath(target);
    if (!id)
      throw new CliError(
        `${target} is not inside a run directory (<SELFSUP_HOME>/runs/<id>/...)`,
        EXIT.usage,
      );
    runRef = id;
    if (existsSync(path.join(target, "manifest.json"))) checkpointArg = target;
  }

  const registry = await registryWithWarnings();
  const store = await openRunnerStore();
  try {
    const run = await findRun(store, runRef);
    const ckpt = await pickCheckpoint(store, run.id, checkpointArg);
    if (!ckpt) throw new CliError(`run ${run.id} has no checkpoint to evaluate`, EXIT.failure);
    let cfg: RunConfig = parseStoredRunConfig(run.config, run.id);
    if (opts.dataset) cfg = { ...cfg, dataset: { name: opts.dataset, options: {} } };
    if (opts.limit !== undefined) cfg = { ...cfg, dataset: { ...cfg.dataset, limit: Number(opts.limit) } };
    cfg = resolveOrThrow(cfg, registry);
    const backend = await initBackend(cfg.backend);
    const dataset = await loadDataset(registry, cfg.dataset);
    cfg = resolveOrThrow(cfg, registry, dataset.input);
    const method = buildMethod(registry, cfg, dataset.input);
    try {
      // The Trainer restores weights with the same name and shape checks as a resume. It only
      // trains with fit(), never here; its constructor just needs one step's worth of samples.
      const perStep = cfg.training.batchSize * cfg.training.accumulate;
      const sized = {
        ...dataset,
        train: { size: Math.max(dataset.train.size, perStep), get: (i: number) => dataset.train.get(i) },
      };
      const trainer = new Trainer({ method, dataset: sized, config: cfg.training });
      await trainer.restore(ckpt);
      trainer.dispose(); // only the weights are evaluated: the restored optimizer slots can go
      const plan = finalEvaluators(registry, {
        knn: protocols.includes("knn"),
        linear: protocols.includes("linear"),
        fewLabel: { labelsPerClass: protocols.includes("few-label") ? labelsPerClass : [], seeds },
        everyEpochs: 0,
      });
      if (plan.missing.length > 0)
        throw new CliError(`no evaluator installed for: ${plan.missing.join(", ")}`, EXIT.failure);
      const batchSize = opts.batchSize ? Number(opts.batchSize) : Math.max(cfg.training.batchSize, 64);
      const results = await runEvaluators(plan.uses, {
        encoder: method.encoder(),
        dataset,
        seed: cfg.training.seed,
        batchSize,
      });
      if (opts.save !== false) {
        await storeEvaluations(store, run.id, results);
        await store.updateSummary(
          run.id,
          Object.fromEntries(results.map((r) => [evaluationKey(r), r.value])),
        );
      }
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ runId: run.id, checkpoint: ckpt, step: trainer.step, backend: backend.backend, dataset: cfg.dataset, results }, null, 2)}\n`,
        );
      } else {
        process.stdout.write(
          `run ${run.id} (${run.name}), checkpoint step ${trainer.step}, ${cfg.dataset.name}${cfg.dataset.limit ? ` (first ${cfg.dataset.limit})` : ""}, backend ${backend.backend}\n`,
        );
        const rows = results.map((r) => [
          r.protocol,
          r.labelsPerClass === undefined ? "all" : String(r.labelsPerClass),
          r.metric,
          fmtNum(r.value),
          r.std === undefined ? "-" : fmtNum(r.std),
          r.perSeed ? r.perSeed.map((p) => p.seed).join(",") : "-",
        ]);
        process.stdout.write(
          `${table(["protocol", "labels/class", "metric", "value", "std", "seeds"], rows)}\n`,
        );
        if (opts.save !== false) process.stdout.write("saved as the run's evaluations\n");
      }
      return EXIT.ok;
    } finally {
      method.dispose();
    }
  } finally {
    await store.close();
  }
}
