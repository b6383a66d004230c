/**
 * Quality figures of the pretext methods for `pnpm bench`: @selfsup/bench's quality bench (`benchQuality`:
 * kNN and 10-label probe against random init and raw pixels) over this package's plugin, on the
 * MNIST digits for every method but colorization, which needs colour: it runs on core's synthetic
 * RGB shapes (32x32x3, 4,000 train / 500 test, 4 shape classes), a table of its own.
 *
 * Measured (wasm, a 2-core box shared with other jobs, so seconds are slow; 3 epochs of batch 64,
 * AdamW 2e-3 cosine, convnet width 32; probe@10: mean ± std over label draws; README.md has notes):
 *
 *   MNIST digits (8,000 / 2,000)  seconds  img/s  kNN top1  probe@10
 *   raw-pixels                          -      -     89.8%     72.0% ± 0.9
 *   random-init                         -      -     68.3%     52.2% ± 2.3
 *   relative-position                  70    343     82.0%     62.6% ± 1.6
 *   deepcluster                       467     51     59.3%     65.1% ± 3.0
 *   jigsaw                            296     81     81.8%     60.6% ± 2.4
 *   autoencoder                       764     31     82.7%     73.5% ± 2.2   (= raw pixels within noise)
 *   rotation                          716     34     73.0%     69.8% ± 1.8
 *
 *   synthetic RGB shapes (4,000 / 500, 4 epochs, 5 draws)
 *   raw-pixels                          -      -     82.8%     40.4% ± 2.6
 *   random-init                         -      -     50.0%     41.2% ± 3.3
 *   colorization                      564     28     43.8%     44.3% ± 4.7   (margin within noise)
 *
 *   import { benchPretext } from "@selfsup/method-pretext/bench";
 *   const rows = await benchPretext({ quick: true, methods: ["rotation", "colorization"] });
 */

import { benchQuality, formatTable, type QualityBenchOptions, type QualityBenchRow } from "@selfsup/bench";
import { type Dataset, synthetic } from "@selfsup/core";
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
  return synthetic.load(synthetic.options.parse({ size: 32, channels: 3, trainSize: 4000, testSize: 500 }));
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
