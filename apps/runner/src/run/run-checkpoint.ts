/**
 * A run's checkpoint from what a user typed: a run id or name (looked up in the store under
 * SELFSUP_HOME), a run directory (`<home>/runs/<id>`) or a checkpoint directory in one
 * (`<home>/runs/<id>/checkpoints/step-N`). "latest" is the newest recorded checkpoint whose files
 * match their manifest: a torn one is skipped with a warning, as resume does (resume.ts).
 *
 * Used by `loadEncoder` (`embed`, `export`) and by options that name another run's checkpoint
 * (a method spec's `requires`, see requires.ts).
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { Run, RunStore } from "@selfsup/store";
import { CliError, EXIT } from "../exit-codes.js";
import { openRunnerStore } from "../store.js";
import { findRun } from "./find-run.js";
import { resumableCheckpoint } from "./resume.js";

/** Which checkpoint: the newest intact one (default), the best by kNN, or a step number. */
export type CheckpointChoice = "latest" | "best" | number;

/** What `source` names on disk: a run directory, a checkpoint in it, or neither (an id or name). */
export function classify(source: string): { runDir?: string; checkpointDir?: string } {
  if (!existsSync(source) || !statSync(source).isDirectory()) return {};
  const abs = path.resolve(source);
  if (existsSync(path.join(abs, "manifest.json"))) {
    const runDir = path.dirname(path.dirname(abs));
    if (path.basename(path.dirname(abs)) !== "checkpoints")
      throw new CliError(
        `${source} is a checkpoint outside a run directory (<home>/runs/<id>/checkpoints/step-N); the run's config is needed to rebuild its encoder`,
        EXIT.usage,
      );
    return { runDir, checkpointDir: abs };
  }
  if (existsSync(path.join(abs, "checkpoints")) || path.basename(path.dirname(abs)) === "runs")
    return { runDir: abs };
  throw new CliError(
    `${source} is neither a run directory (<home>/runs/<id>) nor a checkpoint directory (with manifest.json)`,
    EXIT.usage,
  );
}

/** The checkpoint directory to load for `choice`; torn ones are skipped with a warning. */
async function pickCheckpoint(
  store: RunStore,
  run: Run,
  choice: CheckpointChoice,
  warn: (m: string) => void,
): Promise<string> {
  if (choice === "best") {
    const best = await store.latestCheckpoint(run.id, "best");
    if (best && existsSync(path.join(best.path, "manifest.json"))) return best.path;
    throw new CliError(`run ${run.id} has no best checkpoint on disk; use --checkpoint latest`, EXIT.usage);
  }
  if (typeof choice === "number") {
    const all = await store.listCheckpoints(run.id);
    const hit = all.find((c) => c.step === choice);
    if (!hit || !existsSync(path.join(hit.path, "manifest.json")))
      throw new CliError(
        `run ${run.id} has no checkpoint at step ${choice}; it has: ${
          all.map((c) => c.step).join(", ") || "none"
        }`,
        EXIT.usage,
      );
    return hit.path;
  }
  const skipped: string[] = [];
  const ckpt = await resumableCheckpoint(store, run.id, {
    onSkip: (k) => {
      skipped.push(`step ${k.step}`);
      warn(`checkpoint at step ${k.step} (${k.path}) skipped: ${k.reason}`);
    },
  });
  if (!ckpt) {
    const why = skipped.length > 0 ? ` (every recorded one is torn: ${skipped.join(", ")})` : "";
    throw new CliError(
      `run ${run.id} has no checkpoint to load${why}; a run writes one at its end or every checkpoint.everySteps`,
      EXIT.failure,
    );
  }
  if (skipped.length > 0) warn(`using the checkpoint at step ${ckpt.step} instead, as resume would`);
  return ckpt.path;
}

/** The store holding `runDir`'s run: DATABASE_URL when set, else the PGlite beside the run directory. */
async function storeFor(runDir: string | undefined): Promise<RunStore> {
  if (runDir === undefined || process.env.DATABASE_URL) return openRunnerStore({ markStale: false });
  const home = path.dirname(path.dirname(runDir));
  const db = path.join(home, "db");
  if (existsSync(db)) return openRunnerStore({ url: `file://${db}`, markStale: false });
  return openRunnerStore({ markStale: false });
}

export interface FindRunCheckpointOptions {
  /** Default "latest". */
  checkpoint?: CheckpointChoice;
  /** Told of a torn checkpoint passed over and of the one used instead. */
  warn: (message: string) => void;
  /** The store to look runs up in (default: the one beside a run directory, else SELFSUP_HOME's). */
  store?: RunStore;
  /** Refuse a run of any other method (checked before its checkpoints are). */
  method?: string;
}

/** The run `source` names and the checkpoint directory to load (see the file comment). */
export async function findRunCheckpoint(
  source: string,
  opts: FindRunCheckpointOptions,
): Promise<{ run: Run; dir: string }> {
  const where = classify(source);
  const store = opts.store ?? (await storeFor(where.runDir));
  try {
    const run = await findRun(store, where.runDir ? path.basename(where.runDir) : source);
    if (opts.method !== undefined && run.method !== opts.method)
      throw new CliError(`run ${run.id} trained ${run.method}, not ${opts.method}`, EXIT.usage);
    const dir =
      where.checkpointDir ?? (await pickCheckpoint(store, run, opts.checkpoint ?? "latest", opts.warn));
    return { run, dir };
  } finally {
    if (!opts.store) await store.close();
  }
}
