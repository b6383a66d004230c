/**
 * What the quality bench reports: one row per method (and per baseline), its per-pretraining
 * scores and its curve. Types only; protocol.ts fills them, scoring.ts aggregates, tables.ts and
 * plot.ts print and draw them.
 */
export interface QualityBenchRow {
  /** Method name, or the baselines "raw-pixels" and "random-init". */
  method: string;
  epochs: number;
  /** Pretraining wall-clock seconds (0 for the baselines). */
  seconds: number;
  /** Training images (not views) per second during pretraining. */
  imagesPerSec: number;
  /** Weighted kNN (k = 200, t = 0.1) top-1 on the test split, features of every training digit labelled. */
  knnTop1: number;
  /** Linear probe top-1 with 10 labels per class, mean over label draws (default seeds 0, 1, 2). */
  probe10: number;
  /** Standard deviation of probe10 over the draws. */
  probe10Std: number;
  /** Linear probe with 100 labels per class (when `probeLabels` has 100), mean and std. */
  probe100?: number;
  probe100Std?: number;
  /** With `fineTune`: top-1 after fine-tuning on 10 labels per class, mean and std over the draws. */
  fineTune10?: number;
  fineTune10Std?: number;
  /** Std of kNN top-1 over the pretraining seeds (0 with one). */
  knnTop1Std?: number;
  /** One entry per pretraining seed (methods only; baselines have none). */
  perSeed?: QualitySeedResult[];
}

/** The scores of one pretraining of a method. */
export interface QualitySeedResult {
  seed: number;
  seconds: number;
  knnTop1: number;
  /** 10-label probe top-1 per label draw (in `probeSeeds` order). */
  probe10: number[];
  probe100?: number[];
  fineTune10?: number[];
  /** Scores after intermediate epochs (with `curveEpochs`), the last one after the final epoch. */
  curve?: QualityCurvePoint[];
}

/** A point of a quality-vs-training-time curve. */
export interface QualityCurvePoint {
  epoch: number;
  /** Training seconds up to the end of this epoch (scoring excluded). */
  seconds: number;
  knnTop1: number;
  /** Mean 10-label probe top-1 over the label draws. */
  probe10: number;
}
