/**
 * Pins the first 20 training losses of SimCLR, BYOL and MoCo on a fixed seed (cpu backend, tiny
 * convnet, the digit augmentation pipeline, AdamW through core's Trainer) to the values recorded
 * before the method-kit refactor (issue 10): any change to a method's numerics fails here.
 * `PIN_RECORD=1` rewrites the fixture (only when a numerics change is intended; say so in the commit).
 */
import { join } from "node:path";
import { buildPipeline, makeViews, type Rng } from "@selfsup/core";
import { describePinnedLosses, pinnedTrainingLosses } from "@selfsup/core/testing";
import { createMethod, registry, setupBackend } from "./helpers.js";

describePinnedLosses("pinned losses (issue 10: unchanged numerics)", {
  fixture: join(import.meta.dirname, "fixtures", "pinned-losses.json"),
  methods: ["simclr", "byol", "moco", "dino", "nnclr", "moco-v3", "ibot"],
  setup: setupBackend,
  losses: async (name, steps) => {
    const dataset = await registry
      .get("dataset", "synthetic")
      .load(registry.parseOptions("dataset", "synthetic", { size: 8, trainSize: 64, testSize: 0, seed: 3 }));
    // BYOL's tau_base now follows the run's length by default; the pins were recorded with 0.996
    const method = createMethod(name, name === "byol" ? { baseMomentum: 0.996 } : {}, 7);
    const pipeline = buildPipeline(registry, method.defaultAugmentation?.(dataset.input) ?? []);
    return pinnedTrainingLosses(method, dataset, {
      steps,
      epochs: 10,
      batchSize: 16,
      augment: (x, n, rng: Rng) => makeViews(pipeline, x, n, rng),
    });
  },
});
