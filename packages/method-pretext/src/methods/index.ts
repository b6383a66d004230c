import type { MethodSpec } from "@selfsup/core";
import { autoencoderMethod } from "./autoencoder.js";
import { colorizationMethod } from "./colorization.js";
import { deepClusterMethod } from "./deepcluster.js";
import { jigsawMethod } from "./jigsaw.js";
import { relativePositionMethod } from "./relative-position.js";
import { rotationMethod } from "./rotation.js";

export * from "./autoencoder.js";
export * from "./colorization.js";
export * from "./deepcluster.js";
export * from "./jigsaw.js";
export * from "./relative-position.js";
export * from "./rotation.js";

/** Every method of this package, as its plugin registers them: adding a method is one line here. */
export const pretextMethods: MethodSpec[] = [
  rotationMethod,
  jigsawMethod,
  relativePositionMethod,
  colorizationMethod,
  deepClusterMethod,
  autoencoderMethod,
];
