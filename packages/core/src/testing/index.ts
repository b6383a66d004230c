/**
 * `@selfsup/core/testing`: the method conformance kit and small fixtures, for test files.
 *
 * In a method package's vitest file:
 *
 *   import { describeMethodConformance } from "@selfsup/core/testing";
 *   import { simclrMethod } from "@selfsup/method-contrastive";
 *   describeMethodConformance(simclrMethod, { options: { temperature: 0.5 } });
 *
 * Losses and augmentations have their own: `describeLossConformance(spec, { inputShapes })`,
 * `describeAugmentationConformance(spec, { inputShape })`. A package pins its methods' first
 * training losses with `describePinnedLosses` (pinned-losses.ts) and guards quality with
 * `describeQualityFloor`.
 *
 * This registers one vitest test per check (see conformance.ts). The checks are also exported as
 * plain async functions (`checkNoLeaks(spec, opts)`, ..., `runMethodConformance(spec, opts)`)
 * for other runners; they throw `ConformanceError`. This module imports `vitest`, which the
 * consumer has as a devDependency.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type BackendRequest, initBackend } from "../backend/init-backend.js";
import type { AugmentationSpec, LossSpec, MethodSpec } from "../plugin/types.js";
import { CHECK_FUNCTIONS, CHECK_TITLES, CONFORMANCE_CHECKS, type ConformanceOptions } from "./conformance.js";
import {
  type AugmentationConformanceOptions,
  checkAugmentationConformance,
  checkLossConformance,
  type LossConformanceOptions,
} from "./contribution-conformance.js";

export * from "./conformance.js";
export * from "./contribution-conformance.js";
export * from "./fixtures.js";
export * from "./pinned-losses.js";

export interface DescribeConformanceOptions extends ConformanceOptions {
  /** Backend to run on (default "cpu": exact and available everywhere; SELFSUP_BACKEND overrides). */
  backend?: BackendRequest;
  /** Per-test timeout in ms (default 120 000). */
  timeout?: number;
}

/** Registers `describe("<name> conformance")` with one `it` per check (skipped ones as `it.skip`). */
export function describeMethodConformance(spec: MethodSpec, opts: DescribeConformanceOptions = {}): void {
  describe(`${spec.name} conformance`, () => {
    beforeAll(async () => {
      await initBackend(opts.backend ?? "cpu");
    });
    for (const check of CONFORMANCE_CHECKS) {
      const test = opts.skip?.includes(check) ? it.skip : it;
      test(
        `${check}: ${CHECK_TITLES[check]}`,
        () => CHECK_FUNCTIONS[check](spec, opts),
        opts.timeout ?? 120_000,
      );
    }
  });
}

/** Registers the loss checks (finite scalar, determinism, gradients vs finite differences). */
export function describeLossConformance(
  spec: LossSpec,
  opts: LossConformanceOptions & { backend?: BackendRequest },
): void {
  describe(`${spec.name} loss conformance`, () => {
    beforeAll(async () => {
      await initBackend(opts.backend ?? "cpu");
    });
    it("finite scalar, deterministic, gradients match finite differences", () =>
      checkLossConformance(spec, opts));
  });
}

/** Registers the augmentation checks (shape, finite, seeded determinism, input intact, no leaks). */
export function describeAugmentationConformance(
  spec: AugmentationSpec,
  opts: AugmentationConformanceOptions & { backend?: BackendRequest } = {},
): void {
  describe(`${spec.name} augmentation conformance`, () => {
    beforeAll(async () => {
      await initBackend(opts.backend ?? "cpu");
    });
    it("shape, finite values, same output for the same seed, input intact, no leaks", () =>
      checkAugmentationConformance(spec, opts));
  });
}

/** What one quality-floor test compares: a short fixed-seed pretraining against its baseline. */
export interface QualityFloorOptions<R extends object> {
  /** The setting, for the describe title ("fixed seed, 2,000 digits"). */
  setting: string;
  /** Backend the pretraining runs on (default "wasm": deterministic for a seed, and fast). */
  backend?: BackendRequest;
  /** Trains and scores; returns the trained model's metrics and the baseline's (same network at random init). */
  run(): Promise<{ trained: R | undefined; baseline: R | undefined }>;
  /** Each metric the trained model must beat the baseline on, by at least this much. */
  margins: Partial<Record<NoInfer<keyof R> & string, number>>;
  /** Per-test timeout in ms (default 600 000). */
  timeout?: number;
}

/**
 * Registers a quality floor: a regression guard for quality that cannot flake (fixed seeds, no
 * wall-clock figure), asserting that `run`'s trained metrics clear the baseline's by `margins`.
 * The full-budget figures are `pnpm bench`'s.
 */
export function describeQualityFloor<R extends object>(title: string, opts: QualityFloorOptions<R>): void {
  describe(`quality floor (${opts.setting})`, () => {
    it(
      title,
      async () => {
        await initBackend(opts.backend ?? "wasm");
        const scores = await opts.run();
        if (!scores.trained || !scores.baseline)
          throw new Error("quality floor: run() returned no trained or no baseline scores");
        const trained = scores.trained as Record<string, unknown>;
        const baseline = scores.baseline as Record<string, unknown>;
        const margins = Object.entries(opts.margins) as Array<[string, number]>;
        const line = margins.map(([m]) => `${m} ${trained[m]} vs ${baseline[m]}`).join(", ");
        console.log(`quality floor: ${title}: ${line}`);
        for (const [metric, margin] of margins) {
          const t = trained[metric];
          const b = baseline[metric];
          expect(t, `trained ${metric}`).toBeTypeOf("number");
          expect(
            t as number,
            `${metric}: trained ${t} must beat the baseline's ${b} by ${margin}`,
          ).toBeGreaterThan((b as number) + margin);
        }
      },
      opts.timeout ?? 600_000,
    );
  });
}
