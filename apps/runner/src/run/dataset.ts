/**
 * Loading a run's dataset from the registry, cut to `limit` samples per split when asked, and
 * watching it while the run trains: bad files a dataset skips (`skipBad`) and its notes (a torn
 * sample cache rebuilt) become the run's warnings, the skipped files are stored with the run (a
 * `data` artifact, `skipped-files.json`, and the `skipped_files` summary count), and a dataset that
 * holds workers or files (image-folder's decode pool) is closed when the run ends.
 */
import type { Dataset, DatasetSplit, Registry, Rng } from "@selfsup/core";
import type { RunStore } from "@selfsup/store";

/** The first `n` samples of a split (the split itself when it is not larger). */
export function limitSplit(split: DatasetSplit, n: number | undefined): DatasetSplit {
  if (n === undefined || n >= split.size) return split;
  const check = (index: number) => {
    if (index < 0 || index >= n) throw new RangeError(`sample ${index} is outside the first ${n} (--limit)`);
  };
  const limited: DatasetSplit & {
    getBatch?: (indices: readonly number[]) => Promise<unknown>;
    prefetchBatches?: number;
    epochOrder?: (rng: Rng, count: number) => number[];
  } = {
    size: n,
    get(index: number) {
      check(index);
      return split.get(index);
    },
  };
  // a split that reads whole batches (image-folder's worker pool) keeps doing so under --limit
  const batched = split as DatasetSplit & {
    getBatch?: (indices: readonly number[]) => Promise<unknown>;
    prefetchBatches?: number;
    epochOrder?: (rng: Rng, count: number) => number[];
  };
  if (typeof batched.getBatch === "function") {
    const getBatch = batched.getBatch.bind(split);
    limited.getBatch = (indices) => {
      for (const i of indices) check(i);
      return getBatch(indices);
    };
    if (batched.prefetchBatches !== undefined) limited.prefetchBatches = batched.prefetchBatches;
    // its own epoch order (a streamed cache's, chunk by chunk) over the first n
    const epochOrder = batched.epochOrder;
    if (epochOrder) limited.epochOrder = (rng, count) => epochOrder.call(split, rng, Math.min(count, n));
  }
  const input = (split as { input?: unknown }).input;
  return input === undefined ? limited : Object.assign(limited, { input });
}

export function limitDataset(dataset: Dataset, limit: number | undefined): Dataset {
  if (limit === undefined) return dataset;
  const limited: Dataset = {
    name: dataset.name,
    input: dataset.input,
    train: limitSplit(dataset.train, limit),
    ...(dataset.test ? { test: limitSplit(dataset.test, limit) } : {}),
    ...(dataset.numClasses !== undefined ? { numClasses: dataset.numClasses } : {}),
    ...(dataset.classNames ? { classNames: dataset.classNames } : {}),
    ...(dataset.decode ? { decode: dataset.decode.bind(dataset) } : {}),
  };
  // what the run watches (skipped files, notes) and closes stays reachable
  const extras = dataset as WatchableDataset;
  for (const key of ["skipped", "onSkip", "onNote", "close"] as const) {
    const v = extras[key];
    if (v !== undefined) Object.assign(limited, { [key]: typeof v === "function" ? v.bind(dataset) : v });
  }
  return limited;
}

export async function loadDataset(
  registry: Registry,
  cfg: { name: string; options: Record<string, unknown>; limit?: number | undefined },
): Promise<Dataset> {
  const spec = registry.get("dataset", cfg.name);
  const options = registry.parseOptions("dataset", cfg.name, cfg.options);
  let dataset: Dataset;
  try {
    dataset = await spec.load(options);
  } catch (err) {
    throw new Error(`dataset "${cfg.name}" failed to load: ${(err as Error).message}`);
  }
  return limitDataset(dataset, cfg.limit);
}

interface SkippedFile {
  file: string;
  reason: string;
}

/** What a dataset may offer beyond `Dataset` (image-folder has all of it). */
interface WatchableDataset {
  skipped?: SkippedFile[];
  onSkip?: (listener: (s: SkippedFile) => void) => void;
  onNote?: (listener: (message: string) => void) => void;
  close?: () => unknown;
}

export interface DatasetWatch {
  /** Stores the skipped files with the run (artifact + summary count); returns how many. */
  store(store: RunStore, runId: string, summary: Record<string, number>): Promise<number>;
  /** Closes the dataset when the run loaded it (decode workers, cache files). */
  close(): Promise<void>;
}

/** Warnings for skipped files and notes; `owned`: the run loaded it, so the run closes it. */
export function watchDataset(
  dataset: Dataset,
  owned: boolean,
  warn: (message: string) => void,
): DatasetWatch {
  const d = dataset as Dataset & WatchableDataset;
  const skipped = d.skipped ?? [];
  const said = (s: SkippedFile) => `skipped a bad file (skipBad): ${s.file}: ${s.reason}`;
  for (const s of skipped) warn(said(s));
  d.onSkip?.((s) => warn(said(s)));
  d.onNote?.(warn);
  return {
    async store(store, runId, summary) {
      if (skipped.length === 0) return 0;
      summary.skipped_files = skipped.length;
      await store.addArtifact({
        runId,
        kind: "data",
        name: "skipped-files.json",
        mime: "application/json",
        data: skipped.map((s) => ({ file: s.file, reason: s.reason })),
      });
      return skipped.length;
    },
    async close() {
      if (owned) await d.close?.();
    },
  };
}
