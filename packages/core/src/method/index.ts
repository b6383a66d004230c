/**
 * The method kit every family shares: a base class that turns module declarations into
 * trainable variables, checkpointed state and dispose; views; projector / predictor / classifier
 * heads and the projector's width options; momentum copies and EMA; stop-gradient; embedding statistics; the one build context;
 * and composition of methods on a shared backbone.
 */
export * from "./build-context.js";
export * from "./compose.js";
export * from "./default-backbone.js";
export * from "./embedding-stats.js";
export * from "./heads.js";
export * from "./method-base.js";
export * from "./momentum.js";
export * from "./normalize.js";
export * from "./projector-options.js";
export * from "./stop-gradient.js";
export * from "./views.js";
