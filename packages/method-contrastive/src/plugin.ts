/**
 * The plugin the selfsup runner discovers through package.json's `"selfsup": { "plugin" }` field.
 */
import { definePlugin } from "@selfsup/core";
import { contrastiveLosses } from "./losses/index.js";
import { contrastiveMethods } from "./methods/index.js";

export default definePlugin({
  name: "@selfsup/method-contrastive",
  version: "0.1.0",
  methods: contrastiveMethods,
  losses: contrastiveLosses,
});
