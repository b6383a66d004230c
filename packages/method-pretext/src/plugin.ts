/**
 * The plugin the selfsup runner discovers through package.json's `"selfsup": { "plugin" }` field:
 * every method spec that methods/index.ts exports.
 */
import { definePlugin, specsIn } from "@selfsup/core";
import * as methods from "./methods/index.js";

/** Every method of this package, by name. */
export const pretextMethods = specsIn("method", methods);

export default definePlugin({
  name: "@selfsup/method-pretext",
  version: "0.1.0",
  methods: pretextMethods,
});
