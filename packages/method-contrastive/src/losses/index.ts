// Every loss file of this package; the plugin registers each loss spec exported here
// (`specsIn("loss", ...)` in plugin.ts): adding a loss is one line.
export * from "./barlow-twins.js";
export * from "./dino.js";
export * from "./ibot.js";
export * from "./info-nce.js";
export * from "./moco-v3.js";
export * from "./negative-cosine.js";
export * from "./nnclr.js";
export * from "./nt-xent.js";
export * from "./vicreg.js";
