/**
 * Test helpers: the shared CLI harness (`@selfsup/runner/testing`: the built dist/cli.js in a
 * child process with its own SELFSUP_HOME) with this suite's defaults, the cpu backend, and tiny
 * run configs that train in seconds on it.
 */

import { inject } from "vitest";
import { childEnv, homeFromTemplate } from "../src/testing/index.js";

export { type CliRun, runCli, sleep, startCli, writeConfig } from "../src/testing/index.js";

/** A fresh SELFSUP_HOME whose embedded database is a copy of the suite's migrated template. */
export function tempHome(prefix = "selfsup-runner-"): Promise<string> {
  return homeFromTemplate(inject("pgliteTemplate"), prefix);
}

/** Environment for a child CLI: its own home, cpu backend, no inherited database. */
export function cliEnv(home: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return childEnv(home, "cpu", extra);
}

/**
 * A run config that trains in seconds on the cpu backend: SimCLR with a 4-channel convnet on
 * 8x8 synthetic shapes.
 */
export function tinyConfig(
  over: { epochs?: number; trainSize?: number; everySteps?: number; batchSize?: number; extra?: string } = {},
): string {
  return [
    "method: { name: simclr, options: { projectorHiddenDim: 16, projectorOutputDim: 8 } }",
    "backbone: { name: convnet, options: { width: 4, strides: [2] } }",
    `dataset: { name: synthetic, options: { size: 8, trainSize: ${over.trainSize ?? 128}, testSize: 32 } }`,
    `training: { epochs: ${over.epochs ?? 1}, batchSize: ${over.batchSize ?? 16} }`,
    `checkpoint: { everySteps: ${over.everySteps ?? 0} }`,
    over.extra ?? "",
  ].join("\n");
}
