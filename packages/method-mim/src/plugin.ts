/**
 * The plugin the selfsup runner discovers through package.json's `"selfsup": { "plugin" }` field:
 * every method spec that methods/index.ts exports, and the shipped corpus.
 */
import { definePlugin, specsIn } from "@selfsup/core";
import { topicsCorpusDataset } from "./corpus.js";
import * as methods from "./methods/index.js";

/** Every method of this package, by name. */
export const mimMethods = specsIn("method", methods);

export default definePlugin({
  name: "@selfsup/method-mim",
  version: "0.1.0",
  methods: mimMethods,
  datasets: [topicsCorpusDataset],
});
