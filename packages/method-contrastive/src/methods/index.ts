// Every method file of this package (and the helpers beside them); the plugin registers each
// method spec exported here (`specsIn("method", ...)` in plugin.ts): adding a method is one line.
export * from "./barlow-twins.js";
export * from "./byol.js";
export * from "./dino.js";
export * from "./ibot.js";
export * from "./key-queue.js";
export * from "./moco.js";
export * from "./moco-v3.js";
export * from "./nnclr.js";
export * from "./shuffle-bn.js";
export * from "./simclr.js";
export * from "./simsiam.js";
export * from "./vicreg.js";
