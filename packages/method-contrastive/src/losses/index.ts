import type { LossSpec } from "@selfsup/core";
import { barlowTwinsLossSpec } from "./barlow-twins.js";
import { infoNCELossSpec } from "./info-nce.js";
import { negativeCosineLossSpec } from "./negative-cosine.js";
import { ntXentLossSpec } from "./nt-xent.js";
import { vicregLossSpec } from "./vicreg.js";

export * from "./barlow-twins.js";
export * from "./info-nce.js";
export * from "./negative-cosine.js";
export * from "./nt-xent.js";
export * from "./vicreg.js";

/** Every loss of this package, as registered by its plugin. */
export const contrastiveLosses: LossSpec[] = [
  infoNCELossSpec,
  ntXentLossSpec,
  negativeCosineLossSpec,
  barlowTwinsLossSpec,
  vicregLossSpec,
];
