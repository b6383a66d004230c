import type { MethodSpec } from "@selfsup/core";
import { beitMethod } from "./beit.js";
import { beitTokenizerMethod } from "./beit-tokenizer.js";
import { maeMethod } from "./mae.js";
import { mlmMethod } from "./mlm.js";
import { simmimMethod } from "./simmim.js";

export * from "./beit.js";
export * from "./beit-tokenizer.js";
export * from "./mae.js";
export * from "./mlm.js";
export * from "./simmim.js";

/** Every method of this package, as its plugin registers them: adding a method is one line here. */
export const mimMethods: MethodSpec[] = [maeMethod, simmimMethod, beitTokenizerMethod, beitMethod, mlmMethod];
