export * from "./atomic-dir.js";
export * from "./checkpoint.js";
export * from "./method-weights.js";
export * from "./run-dir.js";
