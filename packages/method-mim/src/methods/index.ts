// Every method file of this package; the plugin registers each method spec exported here
// (`specsIn("method", ...)` in plugin.ts): adding a method is one line.
export * from "./beit.js";
export * from "./beit-tokenizer.js";
export * from "./ijepa.js";
export * from "./mae.js";
export * from "./mlm.js";
export * from "./simmim.js";
