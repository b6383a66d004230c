/**
 * Which checkpoint a resume (or `selfsup eval`) starts from: the newest recorded one that is
 * intact on disk. A checkpoint whose files do not match their manifest (truncated, a flipped
 * byte, a missing file) is skipped, saying which and why; a resume also moves it aside to
 * `torn-step-N` (kept for inspection, invisible to listing and pruning) and forgets its row, so
 * the `checkpoints` table stays true to disk.
 */
import { rename, stat } from "node:fs/promises";
import path from "node:path";
import { verifyCheckpoint } from "@selfsup/core";
import type { Checkpoint, RunStore } from "@selfsup/store";

export interface SkippedCheckpoint {
  step: number;
  path: string;
  /** Why it cannot be used (the verification error). */
  reason: string;
  /** Where a torn checkpoint was moved (resume only). */
  movedTo?: string;
}

export interface ResumableCheckpointOptions {
  /** Move torn checkpoints aside and forget rows of missing or torn ones (resume); default false. */
  repair?: boolean;
  /** Told of every recorded checkpoint that was passed over because it is torn. */
  onSkip?: (skipped: SkippedCheckpoint) => void;
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** `.../step-00000016` -> `.../torn-step-00000016` (or `-2`, `-3`, ... when that exists). */
async function tornName(dir: string): Promise<string> {
  const base = path.join(path.dirname(dir), `torn-${path.basename(dir)}`);
  let candidate = base;
  for (let i = 2; await exists(candidate); i++) candidate = `${base}-${i}`;
  return candidate;
}

/** The newest checkpoint recorded in the store whose files are all intact on disk. */
export async function resumableCheckpoint(
  store: RunStore,
  runId: string,
  opts: ResumableCheckpointOptions = {},
): Promise<Checkpoint | undefined> {
  const all = await store.listCheckpoints(runId);
  const sorted = [...all].sort((a, b) => b.step - a.step || b.id - a.id);
  const forget: string[] = [];
  const checked = new Map<string, boolean>();
  let found: Checkpoint | undefined;
  for (const c of sorted) {
    let ok = checked.get(c.path);
    if (ok === undefined) {
      if (!(await exists(path.join(c.path, "manifest.json")))) {
        ok = false; // pruned or deleted: nothing to report
      } else {
        try {
          await verifyCheckpoint(c.path);
          ok = true;
        } catch (err) {
          ok = false;
          const skipped: SkippedCheckpoint = {
            step: c.step,
            path: c.path,
            reason: err instanceof Error ? err.message : String(err),
          };
          if (opts.repair) {
            skipped.movedTo = await tornName(c.path);
            await rename(c.path, skipped.movedTo);
          }
          opts.onSkip?.(skipped);
        }
      }
      checked.set(c.path, ok);
      if (!ok) forget.push(c.path);
    }
    if (ok) {
      found = c;
      break;
    }
  }
  if (opts.repair && forget.length > 0) await store.deleteCheckpoints(runId, forget);
  return found;
}
