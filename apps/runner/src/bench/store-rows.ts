/**
 * Quality bench rows stored as runs, so the dashboard's leaderboard and runs table show them next
 * to training runs: one finished run per pretraining (method x pretraining seed) and one per
 * baseline (raw pixels, random init), tagged "bench" and the section's name, with the same
 * evaluation rows a training run stores (kNN over all labels; linear probes and fine-tuning per
 * label draw, 10 or 100 labels per class).
 */
import type { QualityBenchRow, QualitySeedResult } from "@selfsup/bench";
import type { EvaluationInput, RunStore } from "@selfsup/store";

/** The part of a quality row stored. */
export type StoredBenchRow = Pick<
  QualityBenchRow,
  "method" | "epochs" | "seconds" | "imagesPerSec" | "knnTop1" | "probe10" | "probe100" | "fineTune10"
> & {
  perSeed?: Array<
    Pick<QualitySeedResult, "seed" | "seconds" | "knnTop1" | "probe10" | "probe100" | "fineTune10">
  >;
};

export interface StoreBenchRowsOptions {
  /** The bench section ("quality", "contrastive", ...), also a tag. */
  section: string;
  dataset: string;
  backend: string | null;
  /** Label-draw seeds of the probes, in the rows' order. */
  probeSeeds: readonly number[];
  /** The bench's settings (epochs, batch, limits), stored in each run's config. */
  options: Record<string, unknown>;
  /** Family and backbone of a method (the registry's), when known. */
  describe?: (method: string) => { family?: string; backbone?: string };
}

type Scores = Omit<EvaluationInput, "runId">;

/** Evaluation rows of one pretraining (or baseline): kNN, then every probe draw. */
export function evaluationRows(
  scores: { knnTop1: number; probe10: number[]; probe100?: number[]; fineTune10?: number[] },
  probeSeeds: readonly number[],
): Scores[] {
  const out: Scores[] = [
    { protocol: "knn", labelsPerClass: null, seed: 0, metric: "top1", value: scores.knnTop1 },
  ];
  const draws = (protocol: string, labelsPerClass: number, values: number[] | undefined) => {
    for (const [i, value] of (values ?? []).entries()) {
      if (!Number.isFinite(value)) continue;
      out.push({ protocol, labelsPerClass, seed: probeSeeds[i] ?? i, metric: "top1", value });
    }
  };
  draws("linear", 10, scores.probe10);
  draws("linear", 100, scores.probe100);
  draws("finetune", 10, scores.fineTune10);
  return out;
}

/** Stores every row; returns the new runs' ids. */
export async function storeBenchRows(
  store: RunStore,
  rows: readonly StoredBenchRow[],
  opts: StoreBenchRowsOptions,
): Promise<string[]> {
  const ids: string[] = [];
  for (const row of rows) {
    const described = opts.describe?.(row.method) ?? {};
    // baselines carry one mean per probe (their draws are not kept): one evaluation per figure
    const pretrainings = row.perSeed ?? [
      {
        seed: 0,
        seconds: 0,
        knnTop1: row.knnTop1,
        probe10: [row.probe10],
        ...(row.probe100 !== undefined ? { probe100: [row.probe100] } : {}),
        ...(row.fineTune10 !== undefined ? { fineTune10: [row.fineTune10] } : {}),
      },
    ];
    for (const p of pretrainings) {
      const run = await store.createRun({
        method: row.method,
        name: `bench-${opts.section}-${row.method}${row.perSeed ? `-s${p.seed}` : ""}`,
        dataset: opts.dataset,
        status: "running",
        tags: ["bench", opts.section],
        config: { bench: opts.section, pretrainSeed: p.seed, ...opts.options, epochs: row.epochs },
        // started when its pretraining did, so the run's duration is the pretraining time
        createdAt: new Date(Date.now() - p.seconds * 1000),
        ...(opts.backend ? { backend: opts.backend } : {}),
        ...(described.family ? { family: described.family } : {}),
        ...(described.backbone ? { backbone: described.backbone } : {}),
      });
      for (const e of evaluationRows(p, row.perSeed ? opts.probeSeeds : [0]))
        await store.addEvaluation({ runId: run.id, ...e });
      await store.finishRun(run.id, {
        status: "finished",
        summary: {
          pretrain_seconds: p.seconds,
          images_per_sec: row.imagesPerSec,
          knn_top1: p.knnTop1,
        },
      });
      ids.push(run.id);
    }
  }
  return ids;
}
