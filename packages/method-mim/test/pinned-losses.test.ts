/**
 * Pins the first 20 training losses of I-JEPA on a fixed seed (cpu backend, the tiny vit-tiny of
 * helpers.ts on core's tiny 16x16 images, AdamW through core's Trainer): any change to its
 * numerics (masks, encoders, predictor, loss, EMA) fails here. `PIN_RECORD=1` rewrites the fixture
 * (only when a numerics change is intended; say so in the commit).
 */
import { join } from "node:path";
import { describePinnedLosses, pinnedTrainingLosses, tinyDatasetFor } from "@selfsup/core/testing";
import { createMethod, IMAGE16, setupBackend, tinyViT } from "./helpers.js";

describePinnedLosses("pinned losses (unchanged numerics)", {
  fixture: join(import.meta.dirname, "fixtures", "pinned-losses.json"),
  methods: ["ijepa"],
  setup: setupBackend,
  losses: (name, steps) =>
    pinnedTrainingLosses(createMethod(name, tinyViT("remove"), {}, IMAGE16, 7), tinyDatasetFor(IMAGE16, 3), {
      steps,
      epochs: 20,
      batchSize: 8,
    }),
});
