/**
 * Quality figures of the pretext methods for `pnpm bench`: core's quality bench (`benchQuality`:
 * MNIST digits, kNN and 10-label probe against random init and raw pixels) over this package's
 * plugin.
 *
 *   import { benchPretext } from "@selfsup/method-pretext/bench";
 *   const rows = await benchPretext({ quick: true, methods: ["rotation"] });
 */
import {
  benchQuality,
  formatTable,
  type QualityBenchOptions,
  type QualityBenchRow,
} from "@selfsup/core/bench";
import plugin from "./plugin.js";

export type PretextBenchOptions = Omit<QualityBenchOptions, "plugins">;
export type PretextBenchRow = QualityBenchRow;
export { formatTable };

/** Every method of this package, in its plugin's order. */
export const BENCH_METHODS: string[] = (plugin.methods ?? []).map((m) => m.name);

export function benchPretext(opts: PretextBenchOptions = {}): Promise<PretextBenchRow[]> {
  return benchQuality({ title: "pretext", ...opts, plugins: [plugin] });
}
