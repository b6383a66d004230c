/**
 * Pins the first 20 training losses of SimCLR, BYOL and MoCo on a fixed seed (cpu backend, tiny
 * convnet, the digit augmentation pipeline, AdamW through core's Trainer) to the values recorded
 * before the method-kit refactor (issue 10): any change to a method's numerics fails here.
 * `PIN_RECORD=1` rewrites the fixture (only when a numerics change is intended; say so in the commit).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildPipeline, type Method, makeViews, type Rng, Trainer } from "@selfsup/core";
import { beforeAll, describe, expect, it } from "vitest";
import { createMethod, registry, setupBackend } from "./helpers.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "pinned-losses.json");
const METHODS = ["simclr", "byol", "moco", "dino", "nnclr", "moco-v3", "ibot"] as const;
const STEPS = 20;

async function first20Losses(name: string): Promise<number[]> {
  const dataset = await registry
    .get("dataset", "synthetic")
    .load(registry.parseOptions("dataset", "synthetic", { size: 8, trainSize: 64, testSize: 0, seed: 3 }));
  // BYOL's tau_base now follows the run's length by default; the pins were recorded with 0.996
  const method: Method = createMethod(name, name === "byol" ? { baseMomentum: 0.996 } : {}, 7);
  const pipeline = buildPipeline(registry, method.defaultAugmentation?.(dataset.input) ?? []);
  const trainer = new Trainer({
    method,
    dataset,
    config: {
      epochs: 10,
      maxSteps: STEPS,
      batchSize: 16,
      seed: 11,
      optimizer: { name: "adamw", lr: 3e-3, weightDecay: 1e-4 },
      schedule: { name: "cosine", warmupSteps: 2 },
    },
    augment: (x, n, rng: Rng) => makeViews(pipeline, x, n, rng),
  });
  const result = await trainer.fit();
  method.dispose();
  return result.losses;
}

describe("pinned losses (issue 10: unchanged numerics)", () => {
  beforeAll(setupBackend);
  const recorded: Record<string, number[]> = existsSync(FIXTURE)
    ? JSON.parse(readFileSync(FIXTURE, "utf8"))
    : {};
  const record = process.env.PIN_RECORD === "1";

  for (const name of METHODS) {
    it(`${name}: the first ${STEPS} losses match the recorded ones`, async () => {
      const losses = await first20Losses(name);
      expect(losses).toHaveLength(STEPS);
      if (record) {
        recorded[name] = losses;
        writeFileSync(FIXTURE, `${JSON.stringify(recorded, null, 2)}\n`);
        return;
      }
      const expected = recorded[name];
      expect(expected, `no recorded losses for ${name}: run with PIN_RECORD=1`).toBeDefined();
      for (let i = 0; i < STEPS; i++) expect(losses[i]).toBeCloseTo(expected?.[i] as number, 5);
    });
  }
});
