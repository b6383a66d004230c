/**
 * The quality bench every method package shares (`pnpm bench`): each method pretrains the convnet
 * on the MNIST digits' training split (labels unused) with its recommended augmentation, then its
 * frozen features are scored on the test split by weighted kNN (all training labels) and by a
 * linear probe fitted on 10 labels per class (mean over label draws), against the same convnet at
 * random initialisation and against raw pixels. SSL features must beat raw pixels clearly on the
 * 10-label probe, or the method (or the stack under it) is broken. The method list comes from the
 * plugins, so a new method gets its row without an edit here.
 *
 *   import { benchQuality } from "@selfsup/bench";
 *   const rows = await benchQuality({ plugins: [contrastivePlugin], quick: true, methods: ["simclr"] });
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  type BackendRequest,
  buildPipeline,
  createRegistry,
  currentBackend,
  type Dataset,
  type FeatureModule,
  type InputSpec,
  initBackend,
  loadMnist,
  type Method,
  type MethodSpec,
  makeViews,
  methodBuildContext,
  methodWeights,
  type Plugin,
  progressLogger,
  RawPixels,
  Rng,
  saveCheckpoint,
  subsetSplit,
  Trainer,
  takesGenericBackbone,
} from "@selfsup/core";
import type { QualityBenchRow, QualityCurvePoint, QualitySeedResult } from "./rows.js";
import { aggregateSeeds, imageSize, range, type ScoreEncoderOptions, scoreEncoder } from "./scoring.js";
import {
  type Columns,
  formatHeader,
  formatMarkdownTable,
  formatRow,
  formatTable,
  pctOrDash,
  writeQualityResults,
} from "./tables.js";

export interface QualityBenchOptions {
  /** Plugins whose methods are benched (registered next to core's built-ins). */
  plugins: Plugin[];
  /** Name of the table in the log header (default "quality"). */
  title?: string;
  /** A smoke run: 2,000 training and 500 test digits, 1 epoch (default false). */
  quick?: boolean;
  /** Methods to pretrain (default: every method of `plugins`, in their order). */
  methods?: string[];
  /**
   * Pretraining epochs (default 10; quick: 1). SimCLR with batch 64 on the 8,000 digits reached a
   * 10-label probe of 75% after 3 epochs and 82% after 10 (raw pixels: 72%): fewer epochs do not
   * separate SSL features from pixels clearly.
   */
  epochs?: number;
  /** Training digits used for pretraining and kNN (default all 8,000; quick: 2,000). */
  trainLimit?: number;
  /** Test digits scored (default all 2,000; quick: 500). */
  testLimit?: number;
  /** Batch size (default 64: more steps per epoch beat more negatives per step at this budget). */
  batchSize?: number;
  /** AdamW peak learning rate (cosine schedule with warmup; default 2e-3). */
  lr?: number;
  /** Options per method, merged over the defaults. */
  methodOptions?: Record<string, Record<string, unknown>>;
  /** Convnet width (default 32: channels 32, 64, 128). */
  width?: number;
  /**
   * How the convnet's last 4x4 map becomes the feature vector (the convnet's `pool` and `grid`;
   * default "max" over a 2x2 grid: 512-d for width 32). Chosen with SimCLR (25 epochs) on a
   * validation split of the training digits (the last 2,000; 10-label probe over 20 draws from the
   * rest, and kNN), never on the test split: the flattened map (2,048-d) gave probe 87.3% and kNN
   * 95.5%; pretrained through the 2x2 max grid, probe 90.9% and kNN 94.8%. Global average pooling
   * (128-d) throws away where strokes are (kNN ~88%). The grid also trains faster (a 512-d
   * projector input).
   */
  pool?: "avg" | "max" | "flatten";
  /** Cells per side of "avg" / "max" pooling (default 2 with the default pool, else 1). */
  grid?: number;
  /**
   * Options per backbone name merged over the methods' choices, e.g. { "vit-tiny": { depth: 2 } }.
   * The bench's vit-tiny (`benchVitOptions`) is merged below these.
   */
  backboneOptions?: Record<string, Record<string, unknown>>;
  /** Score the raw-pixel and random-init baselines too (default true). */
  baselines?: boolean;
  /** Label draws of the 10-per-class probe (default [0, 1, 2]). */
  probeSeeds?: number[];
  /**
   * Pretrain and score on this dataset instead of the MNIST digits (it needs a labelled test split
   * whose class is prefix-balanced, e.g. core's synthetic RGB shapes for colorization).
   */
  dataset?: () => Promise<Dataset>;
  /** Backend when none is initialised yet (default "wasm"). */
  backend?: BackendRequest;
  /** Seed of the data order and of the first pretraining (default 0). */
  seed?: number;
  /**
   * Pretrain each method once per seed here (default [seed]); the row reports the mean over the
   * pretrainings, and the probe's std over every (pretraining, label draw) pair.
   */
  pretrainSeeds?: number[];
  /** Labels per class of the linear probes (default [10, 100]; 10 is always scored). */
  probeLabels?: number[];
  /**
   * Also score the encoder after these epochs (kNN and 10-label probe; the scoring time is not
   * counted as training time), for quality-vs-time curves. Default none; the final epoch is always
   * a curve point when any is asked for.
   */
  curveEpochs?: number[];
  /** Progress lines and the table (default: console.log). */
  log?: (line: string) => void;
  /**
   * Also fine-tune each encoder end to end with 10 labels per class (few-label protocol
   * "finetune", over `probeSeeds`; default false). Masked-modelling features are known to be weak
   * under linear probing and strong after fine-tuning, so their benches report both.
   */
  fineTune?: boolean;
  /** Fine-tuning epochs over the 100 labelled digits, batch 16 (default 20). */
  fineTuneEpochs?: number;
  /**
   * Also write the rows as JSON here (atomically: a temporary file renamed), with the title,
   * backend, date and the options that shape the figures, for tables and plots built later.
   */
  resultsFile?: string;
  /** Called with each pretrained method before it is scored and disposed (e.g. to save pictures). */
  onTrained?: (name: string, method: Method, data: Dataset) => Promise<void> | void;
}

/**
 * The bench's vit-tiny for an image input: a 4x4 grid of patches (patch 7 on 28 px digits, 8 on
 * 32 px images) of width 128, instead of the backbone's default 7x7 grid of width 64. Measured with
 * MAE on the digits (tensorflow; cls-token readout, 10-label probe): patch 4 / width 64 gave 54.6%
 * after 10 epochs; patch 7 / width 128 gave 62.4% after 10 epochs and 74.0% after 20, at a third
 * of the tokens (16 against 49), so each epoch also costs less attention. A side that 4 does not
 * divide keeps the backbone's patch size. Features are read as the convnet's are: max over a 2x2
 * grid of the last map (here the patch tokens), 512-d; after 30 epochs of MAE that read 81.5% on
 * the probe, the class token 76.5% and the token mean 79.0% (all above raw pixels' 73.1%).
 */
export function benchVitOptions(input: InputSpec): Record<string, unknown> {
  if (input.kind !== "image") return {};
  const side = Math.min(input.height, input.width);
  const patch = side / 4;
  const divides = Number.isInteger(patch) && input.height % patch === 0 && input.width % patch === 0;
  return { dim: 128, ...(divides ? { patchSize: patch } : {}), pool: "max", grid: 2 };
}

export async function benchQuality(opts: QualityBenchOptions): Promise<QualityBenchRow[]> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const quick = opts.quick ?? false;
  if (!currentBackend()) await initBackend(opts.backend ?? "wasm");
  const registry = createRegistry();
  for (const plugin of opts.plugins) registry.register(plugin);

  const full = opts.dataset ? await opts.dataset() : await loadMnist();
  if (!full.test) throw new Error(`quality bench: dataset "${full.name}" has no test split to score on`);
  const trainLimit = Math.min(opts.trainLimit ?? (quick ? 2000 : full.train.size), full.train.size);
  const testLimit = Math.min(opts.testLimit ?? (quick ? 500 : full.test.size), full.test.size);
  // the split is class-interleaved, so prefixes stay balanced
  const data: Dataset = {
    ...full,
    train: subsetSplit(full.train, range(trainLimit)),
    test: subsetSplit(full.test, range(testLimit)),
  };
  const epochs = opts.epochs ?? (quick ? 1 : 10);
  const seed = opts.seed ?? 0;
  const pool = opts.pool ?? "max";
  const backboneOptions = {
    width: opts.width ?? 32,
    pool,
    grid: opts.grid ?? (opts.pool === undefined ? 2 : 1),
  };
  // image methods only: the bench is on the MNIST digits (text methods bench on their own corpus)
  const methodOptions: Record<string, Record<string, unknown>> = { ...opts.methodOptions };
  const methods = withPrerequisites(
    opts.methods ??
      opts.plugins.flatMap((p) =>
        (p.methods ?? [])
          .filter((m) => m.inputs.includes("image"))
          .flatMap((m) => [m.name, ...(m.benchBackbones ?? []).map((b) => `${m.name}@${b}`)]),
      ),
    registry,
    methodOptions,
  );
  const probeSeeds = opts.probeSeeds ?? [0, 1, 2];
  const batchSize = opts.batchSize ?? 64;
  log(
    `${opts.title ?? "quality"} bench: backend ${currentBackend()?.backend}, ${full.name} ${trainLimit} train / ${testLimit} test, convnet width ${backboneOptions.width} (${backboneOptions.pool === "flatten" ? "flatten" : `${backboneOptions.pool} pool ${backboneOptions.grid}x${backboneOptions.grid}`}), ${epochs} epoch(s) of batch ${batchSize}`,
  );

  const fineTune = opts.fineTune ? { epochs: opts.fineTuneEpochs ?? 20 } : undefined;
  const pretrainSeeds = opts.pretrainSeeds ?? [seed];
  const probeLabels = opts.probeLabels ?? [10, 100];
  const cols: Columns = { probe100: probeLabels.includes(100), fineTune: fineTune !== undefined };
  if (pretrainSeeds.length === 0) throw new Error("quality bench: pretrainSeeds is empty");
  const scoring: ScoreEncoderOptions = {
    seeds: probeSeeds,
    probeLabels,
    ...(fineTune ? { fineTuneEpochs: fineTune.epochs } : {}),
  };
  // Methods whose spec asks for a specific backbone (vit-tiny for MAE, SimMIM, BEiT) pretrain
  // that one; every other (no defaultBackbone, or core's generic convnet / resnet18 choice) the
  // convnet of the bench's width, so that figures stay comparable across packages and datasets.
  // A row "<method>@<backbone>" (a spec's `benchBackbones`, or asked for by name) pretrains that
  // backbone: the bench's convnet or ViT options, over the method's own for that backbone.
  const backboneOf = (row: string): { name: string; options?: Record<string, unknown> } => {
    const { method: name, backbone } = parseBenchRow(row);
    const spec = registry.get("method", name);
    const choice = spec.defaultBackbone?.(data.input);
    const base =
      backbone !== undefined
        ? backbone === "convnet"
          ? { name: "convnet", options: backboneOptions }
          : { name: backbone, options: choice?.name === backbone ? choice.options : {} }
        : choice === undefined || takesGenericBackbone(spec, data.input)
          ? { name: "convnet", options: backboneOptions }
          : choice;
    const benchDefaults = base.name === "vit-tiny" ? benchVitOptions(data.input) : {};
    return {
      name: base.name,
      options: { ...base.options, ...benchDefaults, ...opts.backboneOptions?.[base.name] },
    };
  };
  // the ViT the vit-tiny methods pretrain (all get the same options), named in the log and results
  const vitMethods = methods.filter((m) => backboneOf(m).name === "vit-tiny");
  const vitOptions =
    vitMethods.length > 0
      ? (registry
          .get("backbone", "vit-tiny")
          .options.parse(backboneOf(vitMethods[0] as string).options ?? {}) as Record<string, unknown>)
      : undefined;
  if (vitOptions) {
    const o = vitOptions;
    log(
      `  ${vitMethods.join(", ")} on vit-tiny: patch ${o.patchSize}, width ${o.dim}, depth ${o.depth}, read as ${o.pool === "cls" ? "the class token" : `${o.pool} ${o.grid}x${o.grid}`}`,
    );
  }
  // A method that `requires` another's checkpoint (BEiT: a trained beit-tokenizer) gets the first
  // pretraining of that method, saved to a temporary directory for the length of the bench.
  let handOverDir: string | undefined;
  const handOver = async (name: string, method: Method) => {
    for (const dependent of methods) {
      const req = registry.get("method", parseBenchRow(dependent).method).requires;
      if (req?.method !== name || methodOptions[dependent]?.[req.option] !== undefined) continue;
      handOverDir ??= await mkdtemp(path.join(tmpdir(), "selfsup-bench-"));
      const dir = path.join(handOverDir, name);
      await saveCheckpoint(dir, { weights: methodWeights(method), meta: { step: 0, epoch: 0 } });
      methodOptions[dependent] = { ...methodOptions[dependent], [req.option]: dir };
      log(`  ${name}: checkpoint handed to ${dependent} as its ${req.option}`);
    }
  };
  const curveEpochs = new Set(opts.curveEpochs ?? []);
  if (curveEpochs.size > 0) curveEpochs.add(epochs);
  /** Pretrains `name` with one seed and scores it; undefined when the method refuses the data. */
  const pretrainAndScore = async (
    name: string,
    pretrainSeed: number,
  ): Promise<{ result: QualitySeedResult; imagesPerSec: number } | undefined> => {
    const ctx = methodBuildContext({
      registry,
      input: data.input,
      rng: new Rng(pretrainSeed),
      backbone: backboneOf(name),
    });
    let method: Method;
    try {
      const specName = parseBenchRow(name).method;
      method = registry.create("method", specName, methodOptions[name] ?? methodOptions[specName] ?? {}, ctx);
    } catch (err) {
      // A method that refuses this dataset (colorization on gray digits) gets no row, and says why.
      log(`${name.padEnd(18)}skipped: ${(err as Error).message}`);
      return undefined;
    }
    try {
      const pipeline = buildPipeline(registry, method.defaultAugmentation?.(data.input) ?? []);
      const tag = pretrainSeeds.length > 1 ? `${name} (seed ${pretrainSeed})` : name;
      // training time excludes the curve's scoring
      let trainMs = 0;
      let since = performance.now();
      const curve: QualityCurvePoint[] = [];
      const trainer = new Trainer({
        method,
        dataset: data,
        config: {
          epochs,
          batchSize,
          seed: pretrainSeed,
          optimizer: { name: "adamw", lr: opts.lr ?? 2e-3, weightDecay: 1e-4 },
          schedule: { name: "cosine", warmupSteps: 10 },
        },
        augment: (x, n, r) => makeViews(pipeline, x, n, r),
        callbacks: [
          progressLogger({ every: 10, write: (line) => log(`  ${tag}: ${line}`) }),
          {
            onEpochEnd: async (epoch) => {
              trainMs += performance.now() - since;
              // the last epoch is scored in full below
              if (curveEpochs.has(epoch + 1) && epoch + 1 < epochs) {
                const s = await scoreEncoder(method.encoder(), data, { seeds: probeSeeds });
                curve.push({
                  epoch: epoch + 1,
                  seconds: trainMs / 1000,
                  knnTop1: s.knnTop1,
                  probe10: s.probe10,
                });
                log(
                  `  ${tag}: epoch ${epoch + 1}, ${(trainMs / 1000).toFixed(0)} s: kNN ${pctOrDash(s.knnTop1)}, probe@10 ${pctOrDash(s.probe10)}`,
                );
              }
              since = performance.now();
            },
          },
        ],
      });
      await trainer.fit();
      trainer.dispose();
      const seconds = trainMs / 1000;
      await opts.onTrained?.(name, method, data);
      await handOver(name, method);
      const s = await scoreEncoder(method.encoder(), data, scoring);
      if (curveEpochs.size > 0)
        curve.push({ epoch: epochs, seconds, knnTop1: s.knnTop1, probe10: s.probe10 });
      const result: QualitySeedResult = {
        seed: pretrainSeed,
        seconds,
        knnTop1: s.knnTop1,
        probe10: s.draws.probe10,
        ...(s.draws.probe100 ? { probe100: s.draws.probe100 } : {}),
        ...(s.draws.fineTune10 ? { fineTune10: s.draws.fineTune10 } : {}),
        ...(curve.length > 0 ? { curve } : {}),
      };
      return { result, imagesPerSec: (trainer.step * batchSize) / Math.max(seconds, 1e-9) };
    } finally {
      method.dispose();
    }
  };
  const rows: QualityBenchRow[] = [];
  const baseline = async (name: string, encoder: FeatureModule) => {
    const { draws: _draws, ...s } = await scoreEncoder(encoder, data, scoring);
    rows.push({ method: name, epochs: 0, seconds: 0, imagesPerSec: 0, ...s });
    log(formatRow(rows[rows.length - 1] as QualityBenchRow, cols));
  };
  log(formatHeader(cols));
  if (opts.baselines ?? true) {
    await baseline("raw-pixels", new RawPixels(imageSize(data)));
    // one random-init row per backbone the methods use ("random-init" for the convnet)
    const seen = new Set<string>();
    const choices =
      methods.length > 0 ? methods.map(backboneOf) : [{ name: "convnet", options: backboneOptions }];
    for (const choice of choices) {
      if (seen.has(choice.name)) continue;
      seen.add(choice.name);
      const randomInit = registry.create(
        "backbone",
        choice.name,
        choice.options ?? {},
        data.input,
        new Rng(seed),
      );
      await baseline(choice.name === "convnet" ? "random-init" : `random-init:${choice.name}`, randomInit);
      randomInit.dispose();
    }
  }

  try {
    for (const name of methods) {
      const perSeed: QualitySeedResult[] = [];
      let imagesPerSec = 0;
      for (const pretrainSeed of pretrainSeeds) {
        const trained = await pretrainAndScore(name, pretrainSeed);
        if (trained === undefined) break; // refused: said why
        perSeed.push(trained.result);
        imagesPerSec += trained.imagesPerSec / pretrainSeeds.length;
      }
      if (perSeed.length === 0) continue;
      const row = aggregateSeeds(name, epochs, imagesPerSec, perSeed);
      rows.push(row);
      log(formatRow(row, cols));
    }
  } finally {
    if (handOverDir) await rm(handOverDir, { recursive: true, force: true });
  }
  log("");
  log(formatTable(rows));
  log("");
  log(formatMarkdownTable(rows));
  if (opts.resultsFile) {
    await writeQualityResults(opts.resultsFile, {
      title: opts.title ?? "quality",
      backend: currentBackend()?.backend ?? null,
      options: {
        epochs,
        batchSize,
        trainLimit,
        testLimit,
        probeSeeds,
        pretrainSeeds,
        seed,
        backbone: backboneOptions,
        ...(vitOptions ? { vit: vitOptions } : {}),
      },
      rows,
    });
    log(`results: ${opts.resultsFile}`);
  }
  return rows;
}

/** A bench row's method and, for "<method>@<backbone>", the backbone it pretrains. */
export function parseBenchRow(row: string): { method: string; backbone?: string } {
  const at = row.indexOf("@", 1); // a scoped name never reaches here; "@" past the first character
  return at < 0 ? { method: row } : { method: row.slice(0, at), backbone: row.slice(at + 1) };
}

/**
 * `methods` with each method's `requires` (a method whose checkpoint it takes as an option) put
 * before it when that option is not given and the required method is registered; a method whose
 * requirement is missing stays (its creation then says what it needs).
 */
export function withPrerequisites(
  methods: readonly string[],
  registry: {
    get(kind: "method", name: string): Pick<MethodSpec, "requires">;
    has(kind: "method", name: string): boolean;
  },
  methodOptions: Record<string, Record<string, unknown>>,
): string[] {
  const out: string[] = [];
  for (const name of methods) {
    const spec = parseBenchRow(name).method;
    const req = registry.has("method", spec) ? registry.get("method", spec).requires : undefined;
    if (
      req &&
      methodOptions[name]?.[req.option] === undefined &&
      registry.has("method", req.method) &&
      !out.includes(req.method)
    )
      out.push(req.method);
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
