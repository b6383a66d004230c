/**
 * Quality figures of the pretext methods for `pnpm bench`: core's quality bench (`benchQuality`:
 * kNN and 10-label probe against random init and raw pixels) over this package's plugin, on the
 * MNIST digits for every method but colorization, which needs colour: it runs on core's synthetic
 * RGB shapes (32x32x3, 2,000 train / 500 test, 4 shape classes), a table of its own.
 *
 * Measured: see README.md (3 epochs of batch 64, wasm backend, on a 2-core box shared with other
 * jobs; every method beats random init on the 10-label probe, none beats raw pixels at this budget).
 *
 *   import { benchPretext } from "@selfsup/method-pretext/bench";
 *   const rows = await benchPretext({ quick: true, methods: ["rotation", "colorization"] });
 */
import { type Dataset, synthetic } from "@selfsup/core";
import {
  benchQuality,
  formatTable,
  type QualityBenchOptions,
  type QualityBenchRow,
} from "@selfsup/core/bench";
import plugin from "./plugin.js";

export type PretextBenchOptions = Omit<QualityBenchOptions, "plugins">;
export type PretextBenchRow = QualityBenchRow & { dataset: string };
export { formatTable };

/** Every method of this package, in its plugin's order. */
export const BENCH_METHODS: string[] = (plugin.methods ?? []).map((m) => m.name);

/** Methods that need RGB images (benched on synthetic RGB shapes instead of the digits). */
export const RGB_METHODS: readonly string[] = ["colorization"];

/** The RGB dataset of the colorization rows. */
export function syntheticRgb(): Promise<Dataset> {
  return synthetic.load(synthetic.options.parse({ size: 32, channels: 3, trainSize: 2000, testSize: 500 }));
}

export async function benchPretext(opts: PretextBenchOptions = {}): Promise<PretextBenchRow[]> {
  const wanted = opts.methods ?? BENCH_METHODS;
  const gray = wanted.filter((m) => !RGB_METHODS.includes(m));
  const rgb = wanted.filter((m) => RGB_METHODS.includes(m));
  const rows: PretextBenchRow[] = [];
  if (gray.length > 0 || opts.dataset) {
    const r = await benchQuality({
      title: "pretext",
      ...opts,
      methods: opts.dataset ? wanted : gray,
      plugins: [plugin],
    });
    rows.push(...r.map((row) => ({ ...row, dataset: opts.dataset ? "custom" : "mnist" })));
  }
  if (rgb.length > 0 && !opts.dataset) {
    const r = await benchQuality({
      title: "pretext (RGB)",
      ...opts,
      methods: rgb,
      dataset: syntheticRgb,
      plugins: [plugin],
    });
    rows.push(...r.map((row) => ({ ...row, dataset: "synthetic-rgb" })));
  }
  return rows;
}
