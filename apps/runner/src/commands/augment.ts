/** `selfsup augment --preview`: a PNG grid of samples and their augmented views. */
import type { AugmentationConfig } from "@selfsup/core";
import { type BackendRequest, initBackend, writeAugmentPreview } from "@selfsup/core";
import { applyFlags, datasetConfigSchema, parseRunConfig, readConfigFile } from "../config.js";
import { CliError, EXIT } from "../exit-codes.js";
import { augmentationSteps, buildMethod } from "../run/build.js";
import { loadDataset } from "../run/dataset.js";
import { registryWithWarnings, resolveOrThrow } from "./train.js";

export interface AugmentOptions {
  preview?: boolean;
  config?: string;
  dataset?: string;
  method?: string;
  limit?: string;
  out?: string;
  count?: string;
  views?: string;
  seed?: string;
  split?: string;
  backend?: BackendRequest;
}

function intIn(value: string | undefined, flag: string, fallback: number, lo: number, hi: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < lo || n > hi)
    throw new CliError(
      `${flag}: must be an integer in ${lo}..${hi} (got ${JSON.stringify(value)})`,
      EXIT.usage,
    );
  return n;
}

/**
 * The pipeline shown: the config file's `augmentations`; else the method's default (--method or
 * the file's method); else core's default for the dataset's input.
 */
export async function augmentCommand(opts: AugmentOptions): Promise<number> {
  if (!opts.preview)
    throw new CliError("augment: nothing to do; use --preview --dataset <name> --out views.png", EXIT.usage);
  if (!opts.out) throw new CliError("augment --preview: --out <file.png> is required", EXIT.usage);
  if (opts.split !== undefined && opts.split !== "train" && opts.split !== "test")
    throw new CliError(`--split: train or test (got ${JSON.stringify(opts.split)})`, EXIT.usage);
  const count = intIn(opts.count, "--count", 8, 1, 256);
  const views = intIn(opts.views, "--views", 4, 1, 64);
  const seed = intIn(opts.seed, "--seed", 0, 0, 2 ** 32 - 1);

  const registry = await registryWithWarnings();
  await initBackend(opts.backend ?? "auto");
  const file = opts.config ? await readConfigFile(opts.config) : {};
  const raw = applyFlags(file, {
    ...(opts.dataset ? { dataset: opts.dataset } : {}),
    ...(opts.limit ? { limit: opts.limit } : {}),
    ...(opts.method ? { method: opts.method } : {}),
  });
  if (!raw.dataset)
    throw new CliError(
      "augment --preview: name a dataset (--dataset mnist) or give a config file",
      EXIT.usage,
    );
  const parsed = datasetConfigSchema.safeParse(raw.dataset);
  if (!parsed.success)
    throw new CliError(
      `invalid dataset: ${parsed.error.issues.map((i) => `${["dataset", ...i.path].join(".")}: ${i.message}`).join("; ")}`,
      EXIT.usage,
    );
  const dataset = await loadDataset(registry, parsed.data);

  let steps: AugmentationConfig[] | undefined;
  if (raw.method) {
    const cfg = resolveOrThrow(parseRunConfig(raw), registry, dataset.input);
    if (cfg.augmentations) steps = cfg.augmentations;
    else {
      const method = buildMethod(registry, cfg, dataset.input);
      try {
        steps = augmentationSteps(cfg, method, dataset.input);
      } finally {
        method.dispose();
      }
    }
  } else if (Array.isArray(raw.augmentations)) {
    steps = raw.augmentations as AugmentationConfig[];
  }
  const result = await writeAugmentPreview({
    dataset,
    ...(steps ? { pipeline: steps } : {}),
    lookup: registry,
    out: opts.out,
    count,
    views,
    seed,
    ...(opts.split ? { split: opts.split as "train" | "test" } : {}),
  });
  process.stdout.write(
    `wrote ${result.out} (${result.width}x${result.height} px): ${result.indices.length} samples of ${dataset.name}, each followed by ${views} views\n`,
  );
  return EXIT.ok;
}
