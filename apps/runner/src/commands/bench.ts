/**
 * `selfsup bench`: @selfsup/bench's sections (kernels, supervised sanity run) plus one
 * quality section per installed plugin that has methods (images/s, kNN, 10- and 100-label probes on
 * the MNIST digits against raw pixels and a random encoder; section name: the plugin's short name,
 * e.g. "contrastive"), the opt-in "quality" section (every installed method in one table), and the
 * opt-in "throughput" table over every installed method (`selfsup bench throughput`). Each quality
 * section writes `bench/results/<section>.json`, a plot of quality against pretraining time
 * (`<section>.png` and `.svg`), and stores its rows as runs tagged "bench" (unless --no-store).
 * Arguments go to @selfsup/bench's runBench: section names, --backend, --only <sections>, --epochs N, --quick,
 * --methods a,b, --seeds N (pretrainings per method), --no-store.
 */
import path from "node:path";
import {
  addBenchSection,
  type BenchContext,
  type BenchSection,
  benchQuality,
  benchSections,
  parseBenchRow,
  runBench,
  throughputSection,
  writeQualityPlot,
} from "@selfsup/bench";
import type { Plugin } from "@selfsup/core";
import { storeBenchRows } from "../bench/store-rows.js";
import { CliError, EXIT } from "../exit-codes.js";
import { loadRegistry } from "../plugins.js";
import { openRunnerStore } from "../store.js";

/** "@selfsup/method-contrastive" -> "contrastive", "selfsup-plugin-swav" -> "selfsup-plugin-swav". */
export function sectionName(pluginName: string): string {
  return pluginName.replace(/^@selfsup\/method-/, "").replace(/^@[^/]+\//, "");
}

/** Every line of a (possibly multi-line) log entry indented under its section. */
const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");

/** Default pretraining epochs of the quality sections (@selfsup/bench's benchQuality default). */
const QUALITY_EPOCHS = 25;
const PROBE_SEEDS = [0, 1, 2];

/** Epochs after which the curve is scored: about a quarter, a half, three quarters and the end. */
export function curveEpochsFor(epochs: number): number[] {
  return [...new Set([1, 2, 3, 4].map((q) => Math.max(1, Math.round((epochs * q) / 4))))];
}

export async function benchCommand(args: string[]): Promise<number> {
  // One quality section per installed plugin with methods (@selfsup/bench's benchQuality over its plugin):
  // a new method, or a new method package, gets its rows without an edit here; "quality" runs them
  // all in one table and plot.
  const { registry, failures } = await loadRegistry();
  for (const f of failures) process.stderr.write(`warning: plugin ${f.packageName} not loaded: ${f.error}\n`);
  const methodPlugins = registry
    .listPlugins()
    .filter((p) => (p.methods ?? []).length > 0 && p.name !== "@selfsup/core");
  const qualitySection = (
    name: string,
    plugins: Plugin[],
    description: string,
    optIn = false,
  ): BenchSection => ({
    name,
    description,
    optIn,
    async run(ctx: BenchContext) {
      const resultsDir = process.env.SELFSUP_BENCH_RESULTS ?? path.join(process.cwd(), "bench", "results");
      const base = path.join(resultsDir, `${name}${ctx.args.quick ? "-quick" : ""}`);
      const epochs = ctx.args.epochs ?? (ctx.args.quick ? 1 : QUALITY_EPOCHS);
      const rows = await benchQuality({
        plugins,
        title: name,
        quick: ctx.args.quick,
        epochs,
        probeSeeds: PROBE_SEEDS,
        // the few-label protocols side by side: frozen features (kNN, linear probes) and the
        // encoder fine-tuned end to end on the same 10 labels per class (20 epochs; quick: 2)
        fineTune: true,
        fineTuneEpochs: ctx.args.quick ? 2 : 20,
        ...(ctx.args.methods ? { methods: ctx.args.methods } : {}),
        ...(ctx.args.seeds ? { pretrainSeeds: Array.from({ length: ctx.args.seeds }, (_, i) => i) } : {}),
        ...(ctx.args.quick ? {} : { curveEpochs: curveEpochsFor(epochs) }),
        log: (line) => ctx.write(indent(line)),
        // machine-readable rows next to the printed tables (SELFSUP_BENCH_RESULTS moves them)
        resultsFile: `${base}.json`,
      });
      const png = await writeQualityPlot(
        rows,
        base,
        `${name}: quality vs pretraining time (${ctx.backend.backend})`,
      );
      ctx.write(`  plot: ${png}`);
      if (ctx.args.store) {
        const store = await openRunnerStore();
        try {
          const ids = await storeBenchRows(store, rows, {
            section: name,
            dataset: "mnist",
            backend: ctx.backend.backend,
            probeSeeds: PROBE_SEEDS,
            options: { epochs, quick: ctx.args.quick },
            describe: (method) => {
              // a row "dino@vit-tiny" is DINO on the ViT
              const name = parseBenchRow(method).method;
              const spec = registry.list("method").find((m) => m.spec.name === name)?.spec;
              return spec?.family ? { family: spec.family } : {};
            },
          });
          ctx.write(
            `  stored as ${ids.length} runs tagged bench, ${name} (the dashboard's leaderboard shows them)`,
          );
        } finally {
          await store.close();
        }
      }
    },
  });
  for (const plugin of methodPlugins) {
    const methods = plugin.methods ?? [];
    const name = sectionName(plugin.name);
    if (benchSections.some((s) => s.name === name)) continue;
    addBenchSection(
      qualitySection(
        name,
        [plugin],
        `${methods.map((m) => m.name).join(", ")} (${plugin.name}) on the MNIST digits: images/s, kNN, 10- and 100-label probes, 10-label fine-tuning vs raw pixels and random init`,
      ),
    );
  }
  // every installed method in one table (its sections above also run it, so it is opt-in)
  if (methodPlugins.length > 0 && !benchSections.some((s) => s.name === "quality"))
    addBenchSection(
      qualitySection(
        "quality",
        methodPlugins,
        `every installed image method (${methodPlugins.map((p) => sectionName(p.name)).join(", ")}) in one table and plot`,
        true,
      ),
    );
  // Opt-in: every installed image method on every backend present.
  if (!benchSections.some((s) => s.name === "throughput")) addBenchSection(throughputSection(registry));
  try {
    const failed = await runBench(args.filter((a) => a !== "--"));
    if (failed.length > 0) process.stderr.write(`bench sections failed: ${failed.join(", ")}\n`);
    return failed.length > 0 ? EXIT.failure : EXIT.ok;
  } catch (err) {
    const msg = (err as Error).message;
    if (msg.startsWith("bench:")) throw new CliError(msg, EXIT.usage);
    throw err;
  }
}
