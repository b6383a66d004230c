import {
  describeAugmentationConformance,
  describeLossConformance,
  describeMethodConformance,
} from "@selfsup/core/testing";
import plugin from "../src/plugin.js";

// The same kit our own packages run: every method, loss and augmentation of the plugin.
for (const spec of plugin.methods ?? []) {
  describeMethodConformance(spec, { input: { kind: "image", height: 8, width: 8, channels: 1 } });
}
for (const spec of plugin.losses ?? [])
  describeLossConformance(spec, {
    inputShapes: [
      [6, 4],
      [6, 4],
    ],
  });
for (const spec of plugin.augmentations ?? [])
  describeAugmentationConformance(spec, { inputShape: [4, 12, 12, 1] });
