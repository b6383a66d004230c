/**
 * The quality floors' protocol on the digits (the method packages' test/quality-floor.test.ts with
 * core's `describeQualityFloor`): a short fixed-seed pretraining of one method on 2,000 digits,
 * scored against the same convnet at random initialisation. Deterministic on wasm for a seed.
 */
import type { Plugin } from "@selfsup/core";
import { benchQuality, type QualityBenchOptions } from "./protocol.js";
import type { QualityBenchRow } from "./rows.js";

export interface DigitsFloorOptions {
  plugin: Plugin;
  method: string;
  epochs: number;
  methodOptions?: QualityBenchOptions["methodOptions"];
}

/** The method's row and random init's, for `describeQualityFloor`'s `run`. */
export async function digitsFloor(
  opts: DigitsFloorOptions,
): Promise<{ trained: QualityBenchRow | undefined; baseline: QualityBenchRow | undefined }> {
  const rows = await benchQuality({
    plugins: [opts.plugin],
    methods: [opts.method],
    epochs: opts.epochs,
    lr: 3e-3,
    trainLimit: 2000,
    testLimit: 500,
    batchSize: 64,
    width: 16,
    pool: "avg", // as recorded: a random-init convnet keeps little of the digits when pooled
    probeSeeds: [0, 1, 2],
    probeLabels: [10],
    ...(opts.methodOptions ? { methodOptions: opts.methodOptions } : {}),
    log: () => {},
  });
  const by = new Map(rows.map((r) => [r.method, r]));
  return { trained: by.get(opts.method), baseline: by.get("random-init") };
}
