/**
 * Quality figures of the contrastive methods for `pnpm bench`: @selfsup/bench's quality bench
 * (`benchQuality`: MNIST digits, kNN and 10-label probe against random init and raw pixels) over
 * this package's plugin.
 *
 * `pnpm bench contrastive` runs it through the runner with the bench's documented budget (25 epochs
 * of batch 64 on the 8,000 training digits, flattened convnet of width 32, AdamW 2e-3 with cosine
 * decay); README's Benchmarks section has the measured table and plot. Core's own default here is 10
 * epochs.
 *
 *   import { benchContrastive } from "@selfsup/method-contrastive/bench";
 *   const rows = await benchContrastive({ quick: true, methods: ["simclr", "byol"] });
 */
import { benchQuality, formatTable, type QualityBenchOptions, type QualityBenchRow } from "@selfsup/bench";
import plugin from "./plugin.js";

export type ContrastiveBenchOptions = Omit<QualityBenchOptions, "plugins">;
export type ContrastiveBenchRow = QualityBenchRow;
export { formatTable };

/** Every method of this package, in its plugin's order. */
export const BENCH_METHODS: string[] = (plugin.methods ?? []).map((m) => m.name);

export function benchContrastive(opts: ContrastiveBenchOptions = {}): Promise<ContrastiveBenchRow[]> {
  return benchQuality({ title: "contrastive", ...opts, plugins: [plugin] });
}
