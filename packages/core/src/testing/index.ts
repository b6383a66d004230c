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
 * `describeAugmentationConformance(spec, { inputShape })`.
 *
 * This registers one vitest test per check (see conformance.ts). The checks are also exported as
 * plain async functions (`checkNoLeaks(spec, opts)`, ..., `runMethodConformance(spec, opts)`)
 * for other runners; they throw `ConformanceError`. This module imports `vitest`, which the
 * consumer has as a devDependency.
 */
import { beforeAll, describe, it } from "vitest";
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
