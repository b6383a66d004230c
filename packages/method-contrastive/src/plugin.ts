/**
 * The plugin the selfsup runner discovers through package.json's `"selfsup": { "plugin" }` field:
 * every method and loss spec that methods/index.ts and losses/index.ts export.
 */
import { definePlugin, specsIn } from "@selfsup/core";
import * as losses from "./losses/index.js";
import * as methods from "./methods/index.js";

/** Every method of this package, by name. */
export const contrastiveMethods = specsIn("method", methods);
/** Every loss of this package, by name. */
export const contrastiveLosses = specsIn("loss", losses);

export default definePlugin({
  name: "@selfsup/method-contrastive",
  version: "0.1.0",
  methods: contrastiveMethods,
  losses: contrastiveLosses,
});
