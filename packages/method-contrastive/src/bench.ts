/**
 * Quality figures of the contrastive methods for `pnpm bench`: core's quality bench
 * (`benchQuality`: MNIST digits, kNN and 10-label probe against random init and raw pixels) over
 * this package's plugin.
 *
 * Measured with the defaults (10 epochs of batch 64 on the 8,000 training digits, AdamW 2e-3 with
 * cosine decay, convnet width 32, wasm backend on 2 shared cores; probe@10: mean ± std over 3 label
 * draws, scored on the 2,000 test digits):
 *
 *   method        seconds  img/s  kNN top1  probe@10
 *   raw-pixels          -      -     89.8%     72.0% ± 0.9
 *   random-init         -      -     68.3%     52.2% ± 2.3
 *   simclr            307    261     87.9%     82.3% ± 4.1
 *   moco              404    198     81.5%     77.1% ± 4.7
 *   byol              411    195     73.0%     68.9% ± 2.4   (below pixels at this budget)
 *   simsiam           337    238     79.9%     76.5% ± 4.1
 *   barlow-twins      383    209     83.6%     78.8% ± 3.7
 *   vicreg            405    198     88.8%     82.9% ± 2.5
 *
 *   import { benchContrastive } from "@selfsup/method-contrastive/bench";
 *   const rows = await benchContrastive({ quick: true, methods: ["simclr", "byol"] });
 */
import {
  benchQuality,
  formatTable,
  type QualityBenchOptions,
  type QualityBenchRow,
} from "@selfsup/core/bench";
import plugin from "./plugin.js";

export type ContrastiveBenchOptions = Omit<QualityBenchOptions, "plugins">;
export type ContrastiveBenchRow = QualityBenchRow;
export { formatTable };

/** Every method of this package, in its plugin's order. */
export const BENCH_METHODS: string[] = (plugin.methods ?? []).map((m) => m.name);

export function benchContrastive(opts: ContrastiveBenchOptions = {}): Promise<ContrastiveBenchRow[]> {
  return benchQuality({ title: "contrastive", ...opts, plugins: [plugin] });
}
