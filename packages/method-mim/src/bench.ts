/**
 * Quality figures of the masked-modelling methods for `pnpm bench`.
 *
 * Images: core's quality bench (`benchQuality`: MNIST digits, weighted kNN, linear probe and - as
 * masked-image features are weak under linear probing - end-to-end fine-tuning with 10 labels per
 * class, against raw pixels and each backbone at random init) over this package's image methods,
 * each on its spec's backbone (vit-tiny for MAE, SimMIM, BEiT). beit-tokenizer runs first; its
 * checkpoint is saved and handed to BEiT as its `tokenizer`. MAE's and SimMIM's reconstruction
 * PNGs and the tokenizer's codebook histogram are written to `outDir`.
 *
 * Text: MLM on the shipped topics corpus (3,200 train / 800 held-out sentences) with the tiny
 * text transformer and the LSTM, each beside its random init: held-out masked-token accuracy and
 * perplexity, and a downstream topic probe (10 labels per class, linear; kNN on all labels).
 *
 *   import { benchMim } from "@selfsup/method-mim/bench";
 *   const { images, text } = await benchMim({ quick: true });
 *
 * Measured figures: see the package README.
 */
import { mkdirSync } from "node:fs";
import { rename } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  createRegistry,
  currentBackend,
  type Dataset,
  initBackend,
  type Method,
  methodBuildContext,
  progressLogger,
  Rng,
  Trainer,
} from "@selfsup/core";
import {
  benchQuality,
  formatTable,
  type QualityBenchOptions,
  type QualityBenchRow,
  scoreEncoder,
} from "@selfsup/core/bench";
import { loadTopicsCorpus } from "./corpus.js";
import type { MLM } from "./methods/mlm.js";
import plugin from "./plugin.js";

export { formatTable };

/** Every method of this package, in its plugin's order. */
export const BENCH_METHODS: string[] = (plugin.methods ?? []).map((m) => m.name);
const IMAGE_METHODS = (plugin.methods ?? []).filter((m) => m.inputs.includes("image")).map((m) => m.name);

export interface MimBenchOptions extends Omit<QualityBenchOptions, "plugins" | "methods"> {
  /** Methods to bench (default: all of this package's; "mlm" is the text part). */
  methods?: string[];
  /** Where pictures go (default ./bench-results/mim). */
  outDir?: string;
  /** MLM pretraining epochs over the 3,200 sentences (default 10; quick: 2). */
  textEpochs?: number;
  /** Use only the first N corpus sentences (before the 80/20 split; default all 4,000). */
  textLimit?: number;
  /** MLM backbones (default text-transformer and lstm). */
  textBackbones?: Array<"text-transformer" | "lstm">;
}

export interface MlmBenchRow {
  /** "<backbone>" after MLM pretraining, "<backbone> random-init" before. */
  model: string;
  epochs: number;
  seconds: number;
  /** Held-out masked-token accuracy and perplexity (15% / 80-10-10 corruption, fixed seed). */
  maskedAccuracy: number;
  perplexity: number;
  /** Topic probe on the encoder's features: weighted kNN (all labels), linear probe (10 per class). */
  knnTop1: number;
  probe10: number;
  probe10Std: number;
}

export interface MimBenchResult {
  images: QualityBenchRow[];
  text: MlmBenchRow[];
  /** Files written to outDir. */
  pictures: string[];
}

export async function benchMim(opts: MimBenchOptions = {}): Promise<MimBenchResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  if (!currentBackend()) await initBackend(opts.backend ?? "wasm");
  const wanted = opts.methods ?? BENCH_METHODS;
  const outDir = resolve(opts.outDir ?? join("bench-results", "mim"));
  mkdirSync(outDir, { recursive: true });
  const pictures: string[] = [];
  let images: QualityBenchRow[] = [];
  // BEiT's spec `requires` a trained beit-tokenizer: core's bench trains it first and hands it over
  const methods = IMAGE_METHODS.filter((m) => wanted.includes(m));
  if (methods.length > 0) {
    images = await benchQuality({
      title: "masked",
      fineTune: true,
      ...opts,
      methods,
      plugins: [plugin],
      onTrained: async (name, method, data) => {
        for (const a of (await method.writeArtifacts?.({ dataset: data, dir: outDir })) ?? []) {
          const renamed = join(outDir, `${name}-${a.name}`);
          await rename(join(outDir, a.name), renamed);
          pictures.push(renamed);
          log(`  ${name}: wrote ${renamed} (${a.description})`);
        }
        await opts.onTrained?.(name, method, data);
      },
    });
  }
  const text = wanted.includes("mlm") ? await benchMlm(opts, log) : [];
  return { images, text, pictures };
}

async function textScores(
  method: MLM,
  data: Dataset,
  seeds: number[],
): Promise<Pick<MlmBenchRow, "maskedAccuracy" | "perplexity" | "knnTop1" | "probe10" | "probe10Std">> {
  const test = data.test as Dataset["train"];
  const ev = await method.evaluate(test, new Rng(0), 100);
  // the topic kNN over 4 classes uses k = 50 (core's default of 200 suits 8,000 digits)
  const { knnTop1, probe10, probe10Std } = await scoreEncoder(method.encoder(), data, {
    seeds,
    k: 50,
    batchSize: 200,
  });
  return { maskedAccuracy: ev.maskedAccuracy, perplexity: ev.perplexity, knnTop1, probe10, probe10Std };
}

/** MLM on the shipped corpus, per backbone: random init, then after pretraining. */
export async function benchMlm(
  opts: MimBenchOptions = {},
  log = opts.log ?? console.log,
): Promise<MlmBenchRow[]> {
  if (!currentBackend()) await initBackend(opts.backend ?? "wasm");
  const data = loadTopicsCorpus(opts.textLimit !== undefined ? { limit: opts.textLimit } : {});
  const registry = createRegistry();
  registry.register(plugin);
  const epochs = opts.textEpochs ?? (opts.quick ? 2 : 10);
  const seed = opts.seed ?? 0;
  const seeds = opts.probeSeeds ?? [0, 1, 2];
  const rows: MlmBenchRow[] = [];
  log(
    `mlm bench: backend ${currentBackend()?.backend}, topics corpus ${data.train.size} train / ${data.test?.size} held-out sentences, vocabulary ${data.tokenizer.size}, ${epochs} epoch(s) of batch 64`,
  );
  log(formatMlmHeader());
  for (const backbone of opts.textBackbones ?? ["text-transformer", "lstm"]) {
    const method = registry.create(
      "method",
      "mlm",
      opts.methodOptions?.mlm ?? {},
      methodBuildContext({ registry, input: data.input, rng: new Rng(seed), backbone: { name: backbone } }),
    ) as MLM & Method;
    try {
      const before = {
        model: `${backbone} random-init`,
        epochs: 0,
        seconds: 0,
        ...(await textScores(method, data, seeds)),
      };
      rows.push(before);
      log(formatMlmRow(before));
      const trainer = new Trainer({
        method,
        dataset: data,
        config: {
          epochs,
          batchSize: 64,
          seed,
          optimizer: { name: "adamw", lr: opts.lr ?? 2e-3, weightDecay: 1e-4 },
          schedule: { name: "cosine", warmupSteps: 10 },
        },
        callbacks: [progressLogger({ every: 50, write: (line) => log(`  mlm ${backbone}: ${line}`) })],
      });
      const started = performance.now();
      await trainer.fit();
      trainer.dispose();
      const seconds = (performance.now() - started) / 1000;
      const after = { model: backbone, epochs, seconds, ...(await textScores(method, data, seeds)) };
      rows.push(after);
      log(formatMlmRow(after));
    } finally {
      method.dispose();
    }
  }
  log("");
  log(formatMlmTable(rows));
  return rows;
}

function formatMlmHeader(): string {
  return `${"model".padEnd(28)}${"epochs".padStart(7)}${"seconds".padStart(9)}${"masked acc".padStart(12)}${"perplexity".padStart(12)}${"topic kNN".padStart(11)}${"probe@10".padStart(10)}${"±".padStart(7)}`;
}

function formatMlmRow(r: MlmBenchRow): string {
  const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
  return (
    r.model.padEnd(28) +
    String(r.epochs).padStart(7) +
    r.seconds.toFixed(0).padStart(9) +
    pct(r.maskedAccuracy).padStart(12) +
    r.perplexity.toFixed(1).padStart(12) +
    pct(r.knnTop1).padStart(11) +
    pct(r.probe10).padStart(10) +
    (100 * r.probe10Std).toFixed(1).padStart(7)
  );
}

/** The MLM rows as a fixed-width table. */
export function formatMlmTable(rows: readonly MlmBenchRow[]): string {
  return [formatMlmHeader(), ...rows.map(formatMlmRow)].join("\n");
}
