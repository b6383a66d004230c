/**
 * Checkpoints of a run live in `<runDir>/checkpoints/step-<8 digits>`. This file lists them,
 * finds the latest, and prunes all but the last N and the best by a metric.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { type CheckpointManifest, readManifest } from "./checkpoint.js";

export interface CheckpointInfo {
  dir: string;
  step: number;
  manifest: CheckpointManifest;
}

export interface BestCheckpointRule {
  /** Metric recorded in the manifest (the latest value at the time of writing), e.g. "knn_top1". */
  metric: string;
  mode: "max" | "min";
}

const STEP_DIR = /^step-(\d+)$/;

export function checkpointsDir(runDir: string): string {
  return join(runDir, "checkpoints");
}

export function checkpointDirFor(runDir: string, step: number): string {
  return join(checkpointsDir(runDir), `step-${String(step).padStart(8, "0")}`);
}

/** Complete checkpoints (those with a readable manifest.json), oldest first. Temp dirs are ignored. */
export async function listCheckpoints(runDir: string): Promise<CheckpointInfo[]> {
  let names: string[];
  try {
    names = await readdir(checkpointsDir(runDir));
  } catch {
    return [];
  }
  const out: CheckpointInfo[] = [];
  for (const name of names) {
    const m = STEP_DIR.exec(name);
    if (!m) continue;
    const dir = join(checkpointsDir(runDir), name);
    try {
      out.push({ dir, step: Number(m[1]), manifest: await readManifest(dir) });
    } catch {
      // incomplete or foreign directory: not a checkpoint we can resume from
    }
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The directory of the run's most recent complete checkpoint, or undefined when it has none. */
export async function latestCheckpoint(runDir: string): Promise<string | undefined> {
  const all = await listCheckpoints(runDir);
  return all.at(-1)?.dir;
}

/** The checkpoint with the best recorded value of `rule.metric` (ties: the later one). */
export async function bestCheckpoint(runDir: string, rule: BestCheckpointRule): Promise<string | undefined> {
  return pickBest(await listCheckpoints(runDir), rule)?.dir;
}

function pickBest(all: CheckpointInfo[], rule: BestCheckpointRule): CheckpointInfo | undefined {
  let best: CheckpointInfo | undefined;
  for (const c of all) {
    const v = c.manifest.metrics[rule.metric];
    if (v === undefined || !Number.isFinite(v)) continue;
    const b = best?.manifest.metrics[rule.metric];
    if (b === undefined || (rule.mode === "max" ? v >= b : v <= b)) best = c;
  }
  return best;
}

/** Deletes all checkpoints but the last `keepLast` and (with `best`) the best one; returns the deleted dirs. */
export async function pruneCheckpoints(
  runDir: string,
  opts: { keepLast: number; best?: BestCheckpointRule },
): Promise<string[]> {
  const all = await listCheckpoints(runDir);
  const keep = new Set(all.slice(Math.max(0, all.length - Math.max(1, opts.keepLast))).map((c) => c.dir));
  if (opts.best) {
    const b = pickBest(all, opts.best);
    if (b) keep.add(b.dir);
  }
  const removed: string[] = [];
  for (const c of all) {
    if (keep.has(c.dir)) continue;
    await rm(c.dir, { recursive: true, force: true });
    removed.push(c.dir);
  }
  return removed;
}
