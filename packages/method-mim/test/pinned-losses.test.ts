/**
 * Pins the first 20 training losses of I-JEPA on a fixed seed (cpu backend, the tiny vit-tiny of
 * helpers.ts on core's tiny 16x16 images, AdamW through core's Trainer): any change to its
 * numerics (masks, encoders, predictor, loss, EMA) fails here. `PIN_RECORD=1` rewrites the fixture
 * (only when a numerics change is intended; say so in the commit).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Method, Trainer } from "@selfsup/core";
import { tinyDatasetFor } from "@selfsup/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { createMethod, IMAGE16, setupBackend, tinyViT } from "./helpers.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "pinned-losses.json");
const METHODS = ["ijepa"] as const;
const STEPS = 20;

async function first20Losses(name: string): Promise<number[]> {
  const method: Method = createMethod(name, tinyViT("remove"), {}, IMAGE16, 7);
  const trainer = new Trainer({
    method,
    dataset: tinyDatasetFor(IMAGE16, 3),
    config: {
      epochs: 20,
      maxSteps: STEPS,
      batchSize: 8,
      seed: 11,
      optimizer: { name: "adamw", lr: 3e-3, weightDecay: 1e-4 },
      schedule: { name: "cosine", warmupSteps: 2 },
    },
  });
  const result = await trainer.fit();
  trainer.dispose();
  method.dispose();
  return result.losses;
}

describe("pinned losses (unchanged numerics)", () => {
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
