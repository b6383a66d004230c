/**
 * The plugin the selfsup runner discovers through package.json's `"selfsup": { "plugin" }` field.
 */
import { definePlugin } from "@selfsup/core";
import { pretextMethods } from "./methods/index.js";

export default definePlugin({
  name: "@selfsup/method-pretext",
  version: "0.1.0",
  methods: pretextMethods,
});
