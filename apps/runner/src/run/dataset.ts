/** Loading a run's dataset from the registry, cut to `limit` samples per split when asked. */
import type { Dataset, DatasetSplit, Registry } from "@selfsup/core";

/** The first `n` samples of a split (the split itself when it is not larger). */
export function limitSplit(split: DatasetSplit, n: number | undefined): DatasetSplit {
  if (n === undefined || n >= split.size) return split;
  return {
    size: n,
    get(index: number) {
      if (index < 0 || index >= n)
        throw new RangeError(`sample ${index} is outside the first ${n} (--limit)`);
      return split.get(index);
    },
  };
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
