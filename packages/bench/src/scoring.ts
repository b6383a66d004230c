/**
 * Scoring a frozen encoder the way every quality row is scored (weighted kNN, few-label linear
 * probes, optional fine-tuning, with core's evaluators) and pooling the scores of several
 * pretrainings into one row.
 */
import {
  type Dataset,
  type EvaluationResult,
  extractFeatures,
  type FeatureModule,
  fewLabel,
  knnAccuracy,
  meanStd,
} from "@selfsup/core";
import type { QualityBenchRow, QualitySeedResult } from "./rows.js";

/** Values per sample of a dataset (pixels x channels, or tokens). */
export function imageSize(data: Dataset): number {
  return data.input.kind === "image"
    ? data.input.height * data.input.width * data.input.channels
    : data.input.seqLen;
}

/** 0, 1, ..., n - 1. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** What `scoreEncoder` measures: means and stds, and the value of every label draw. */
export type EncoderScores = Pick<
  QualityBenchRow,
  "knnTop1" | "probe10" | "probe10Std" | "probe100" | "probe100Std" | "fineTune10" | "fineTune10Std"
> & {
  /** Per label draw, in `seeds` order. */
  draws: Pick<QualitySeedResult, "probe10" | "probe100" | "fineTune10">;
};

export interface ScoreEncoderOptions {
  /** Label draws of the 10-per-class probe. */
  seeds: number[];
  /** Neighbours of the weighted kNN (default 200; temperature 0.1). */
  k?: number;
  /** Feature-extraction and probe batch size (default 250). */
  batchSize?: number;
  /** Also fine-tune end to end on the 10 labels per class, for this many epochs. */
  fineTuneEpochs?: number;
  /** Labels per class of the linear probes (default [10]; 10 is always scored). */
  probeLabels?: number[];
}

/**
 * The bench's scores of a frozen encoder on a labelled dataset: weighted kNN top-1 on the test
 * split (every training sample labelled) and the 10-labels-per-class linear probe (mean and std
 * over `seeds`), optionally the 10-label fine-tune. Shared by every package's bench.
 */
export async function scoreEncoder(
  encoder: FeatureModule,
  data: Dataset,
  opts: ScoreEncoderOptions,
): Promise<EncoderScores> {
  const { seeds } = opts;
  const probeLabels = [...new Set([10, ...(opts.probeLabels ?? [])])].sort((a, b) => a - b);
  const batchSize = opts.batchSize ?? 250;
  const test = data.test as Dataset["train"];
  const tr = await extractFeatures(encoder, data.train, { input: data.input, batchSize });
  const te = await extractFeatures(encoder, test, { input: data.input, batchSize });
  let knnTop1: number;
  try {
    knnTop1 = knnAccuracy({
      trainFeatures: tr.features,
      trainLabels: tr.labels,
      testFeatures: te.features,
      testLabels: te.labels,
      numClasses: data.numClasses ?? 10,
      k: opts.k ?? 200,
      temperature: 0.1,
    });
  } finally {
    tr.features.dispose();
    te.features.dispose();
  }
  const probes = await fewLabel({
    encoder,
    dataset: data,
    labelsPerClass: probeLabels,
    seeds,
    protocol: "linear",
    batchSize,
  });
  const probeAt = (n: number) => probes.find((p) => p.labelsPerClass === n);
  const drawsOf = (r: EvaluationResult | undefined) => (r?.perSeed ?? []).map((p) => p.value);
  const probe10 = probeAt(10);
  const scores: EncoderScores = {
    knnTop1,
    probe10: probe10?.value ?? Number.NaN,
    probe10Std: probe10?.std ?? Number.NaN,
    draws: { probe10: drawsOf(probe10) },
  };
  const probe100 = probeAt(100);
  if (probe100) {
    scores.probe100 = probe100.value;
    scores.probe100Std = probe100.std ?? Number.NaN;
    scores.draws.probe100 = drawsOf(probe100);
  }
  if (opts.fineTuneEpochs !== undefined) {
    const [ft] = await fewLabel({
      encoder,
      dataset: data,
      labelsPerClass: [10],
      seeds,
      protocol: "finetune",
      // batch 16: 7 steps per epoch over the 100 labelled digits (a batch of 100 would be 1)
      batchSize: 16,
      fineTuneEpochs: opts.fineTuneEpochs,
    });
    scores.fineTune10 = ft?.value ?? Number.NaN;
    scores.fineTune10Std = ft?.std ?? Number.NaN;
    scores.draws.fineTune10 = drawsOf(ft);
  }
  return scores;
}

/**
 * One row from the pretrainings of a method: kNN mean (and std) over pretraining seeds, probe mean
 * and std over every (pretraining, label draw) pair, seconds the mean pretraining time.
 */
export function aggregateSeeds(
  method: string,
  epochs: number,
  imagesPerSec: number,
  perSeed: QualitySeedResult[],
): QualityBenchRow {
  const knn = meanStd(perSeed.map((r) => r.knnTop1));
  const pooled = (pick: (r: QualitySeedResult) => number[] | undefined) => {
    const values = perSeed.flatMap((r) => pick(r) ?? []);
    return values.length > 0 ? meanStd(values) : undefined;
  };
  const p10 = pooled((r) => r.probe10);
  const p100 = pooled((r) => r.probe100);
  const ft = pooled((r) => r.fineTune10);
  return {
    method,
    epochs,
    seconds: perSeed.reduce((a, r) => a + r.seconds, 0) / perSeed.length,
    imagesPerSec,
    knnTop1: knn.mean,
    knnTop1Std: knn.std,
    probe10: p10?.mean ?? Number.NaN,
    probe10Std: p10?.std ?? Number.NaN,
    ...(p100 ? { probe100: p100.mean, probe100Std: p100.std } : {}),
    ...(ft ? { fineTune10: ft.mean, fineTune10Std: ft.std } : {}),
    perSeed,
  };
}
