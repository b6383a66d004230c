export * from "./multi-crop.js";
export { default as swavPlugin } from "./plugin.js";
export * from "./sinkhorn.js";
export * from "./swav.js";
