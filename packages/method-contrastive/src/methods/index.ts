import type { MethodSpec } from "@selfsup/core";
import { barlowTwinsMethod } from "./barlow-twins.js";
import { byolMethod } from "./byol.js";
import { mocoMethod } from "./moco.js";
import { simclrMethod } from "./simclr.js";
import { simsiamMethod } from "./simsiam.js";
import { vicregMethod } from "./vicreg.js";

export * from "./barlow-twins.js";
export * from "./byol.js";
export * from "./key-queue.js";
export * from "./moco.js";
export * from "./shuffle-bn.js";
export * from "./simclr.js";
export * from "./simsiam.js";
export * from "./vicreg.js";

/** Every method of this package, as its plugin registers them: adding a method is one line here. */
export const contrastiveMethods: MethodSpec[] = [
  simclrMethod,
  mocoMethod,
  byolMethod,
  simsiamMethod,
  barlowTwinsMethod,
  vicregMethod,
];
