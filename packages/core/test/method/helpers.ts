/** What the method-kit tests share: core's registry, an 8x8 gray input and a build context on it. */
import { createRegistry } from "../../src/builtin-plugin.js";
import { methodBuildContext } from "../../src/method/index.js";
import type { MethodBuildContext } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";

export const registry = createRegistry();
export const input = { kind: "image", height: 8, width: 8, channels: 1 } as const;

/** A build context on `input` with a width-4 convnet from core's registry, seeded. */
export function convnetContext(seed = 0): MethodBuildContext {
  return methodBuildContext({
    registry,
    input,
    rng: new Rng(seed),
    backbone: { name: "convnet", options: { width: 4 } },
  });
}
