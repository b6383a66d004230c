/**
 * The plugin the selfsup runner discovers through package.json's `"selfsup": { "plugin" }` field:
 * one method, its loss and its augmentation, written only against @selfsup/core's public API.
 */
import { definePlugin } from "@selfsup/core";
import { localCrop } from "./multi-crop.js";
import { swapLoss } from "./sinkhorn.js";
import { swavMethod } from "./swav.js";

export default definePlugin({
  name: "selfsup-plugin-swav",
  version: "0.1.0",
  methods: [swavMethod],
  losses: [swapLoss],
  augmentations: [localCrop],
});
