// Every method file of this package; the plugin registers each method spec exported here
// (`specsIn("method", ...)` in plugin.ts): adding a method is one line.
export * from "./autoencoder.js";
export * from "./colorization.js";
export * from "./deepcluster.js";
export * from "./jigsaw.js";
export * from "./relative-position.js";
export * from "./rotation.js";
