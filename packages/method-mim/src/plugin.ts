/**
 * The plugin the selfsup runner discovers through package.json's `"selfsup": { "plugin" }` field.
 */
import { definePlugin } from "@selfsup/core";
import { topicsCorpusDataset } from "./corpus.js";
import { mimMethods } from "./methods/index.js";

export default definePlugin({
  name: "@selfsup/method-mim",
  version: "0.1.0",
  methods: mimMethods,
  datasets: [topicsCorpusDataset],
});
