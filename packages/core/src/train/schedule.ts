/**
 * Learning-rate schedules as pure functions of the optimizer step (0-based).
 *
 * Linear warmup then cosine decay (Goyal et al. 2017 warmup, https://arxiv.org/abs/1706.02677;
 * Loshchilov & Hutter 2017 SGDR cosine, https://arxiv.org/abs/1608.03983), as in SimCLR/BYOL/MAE:
 *
 *   step < W:  lr = base * (step + 1) / W
 *   step >= W: lr = min + (base - min) * (1 + cos(pi * (step - W) / (T - W))) / 2
 *
 * (step + 1 so that the first update is not wasted at lr 0; the last warmup step reaches base.)
 */
export type LrSchedule = (step: number) => number;

export interface WarmupCosineOptions {
  baseLr: number;
  /** Planned number of optimizer steps T. */
  totalSteps: number;
  /** Linear warmup steps W (default 0). */
  warmupSteps?: number;
  /** Final learning rate (default 0). */
  minLr?: number;
}

export function warmupCosine(opts: WarmupCosineOptions): LrSchedule {
  const { baseLr, totalSteps } = opts;
  const warmup = Math.max(0, Math.min(opts.warmupSteps ?? 0, totalSteps));
  const minLr = opts.minLr ?? 0;
  return (step) => {
    if (step < warmup) return (baseLr * (step + 1)) / warmup;
    const span = totalSteps - warmup;
    if (span <= 0) return baseLr;
    const progress = Math.min(1, (step - warmup) / span);
    return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}

export function constantLr(baseLr: number, warmupSteps = 0): LrSchedule {
  return (step) => (step < warmupSteps ? (baseLr * (step + 1)) / warmupSteps : baseLr);
}
