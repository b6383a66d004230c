/**
 * Pinned first losses: a method package records the first training losses of its methods on a
 * fixed seed in a JSON fixture, and a test fails when any of them moves (a change to a method's
 * numerics: initialisation order, masks, loss, EMA). `PIN_RECORD=1` rewrites the fixture, only
 * when a numerics change is intended (say so in the commit).
 *
 *   describePinnedLosses("pinned losses (unchanged numerics)", {
 *     fixture: join(import.meta.dirname, "fixtures", "pinned-losses.json"),
 *     methods: ["simclr", "byol"],
 *     setup: setupBackend,
 *     losses: (name, steps) => pinnedTrainingLosses(createMethod(name), dataset, { steps, batchSize: 16 }),
 *   });
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import type { Dataset, Method } from "../plugin/types.js";
import { Trainer, type TrainerOptions } from "../train/trainer.js";

/** The training every pinned run shares: AdamW 3e-3 (weight decay 1e-4), cosine with 2 warm-up steps, seed 11. */
export const PINNED_TRAINING = {
  seed: 11,
  optimizer: { name: "adamw", lr: 3e-3, weightDecay: 1e-4 },
  schedule: { name: "cosine", warmupSteps: 2 },
} as const;

export interface PinnedRunOptions {
  /** Training steps recorded (the run stops there). */
  steps: number;
  batchSize: number;
  /** Epochs the schedule is laid over (the run stops after `steps` anyway). */
  epochs: number;
  /** The views a method with views gets (the trainer's `augment`). */
  augment?: TrainerOptions["augment"];
}

/** Trains `method` on `dataset` with `PINNED_TRAINING` for `steps` steps; returns the losses and disposes the method. */
export async function pinnedTrainingLosses(
  method: Method,
  dataset: Dataset,
  opts: PinnedRunOptions,
): Promise<number[]> {
  const trainer = new Trainer({
    method,
    dataset,
    config: { ...PINNED_TRAINING, epochs: opts.epochs, maxSteps: opts.steps, batchSize: opts.batchSize },
    ...(opts.augment ? { augment: opts.augment } : {}),
  });
  try {
    return (await trainer.fit()).losses;
  } finally {
    trainer.dispose();
    method.dispose();
  }
}

export interface PinnedLossesOptions {
  /** The JSON fixture: `{ [method]: number[] }`. */
  fixture: string;
  /** The methods pinned, one test each. */
  methods: readonly string[];
  /** Losses compared per method (default 20). */
  steps?: number;
  /** Runs once before the tests (backend, gradients). */
  setup?: () => Promise<void>;
  /** The first `steps` training losses of `method`. */
  losses(method: string, steps: number): Promise<number[]>;
  /** Decimal digits that must match (vitest's toBeCloseTo; default 5). */
  digits?: number;
}

/** Registers `describe(title)` with one test per method comparing its first losses to the fixture's. */
export function describePinnedLosses(title: string, opts: PinnedLossesOptions): void {
  const steps = opts.steps ?? 20;
  describe(title, () => {
    if (opts.setup) beforeAll(opts.setup);
    const recorded: Record<string, number[]> = existsSync(opts.fixture)
      ? JSON.parse(readFileSync(opts.fixture, "utf8"))
      : {};
    const record = process.env.PIN_RECORD === "1";

    for (const name of opts.methods) {
      it(`${name}: the first ${steps} losses match the recorded ones`, async () => {
        const losses = await opts.losses(name, steps);
        expect(losses).toHaveLength(steps);
        if (record) {
          recorded[name] = losses;
          writeFileSync(opts.fixture, `${JSON.stringify(recorded, null, 2)}\n`);
          return;
        }
        const expected = recorded[name];
        expect(expected, `no recorded losses for ${name}: run with PIN_RECORD=1`).toBeDefined();
        for (let i = 0; i < steps; i++)
          expect(losses[i]).toBeCloseTo(expected?.[i] as number, opts.digits ?? 5);
      });
    }
  });
}
