/** The optimizers and `createOptimizer(config)`, which builds one from the run's optimizer config. */
import { Adam, AdamW } from "./adam.js";
import { LARS } from "./lars.js";
import type { Optimizer } from "./optimizer.js";
import { SGD } from "./sgd.js";

export * from "./adam.js";
export * from "./lars.js";
export * from "./optimizer.js";
export * from "./sgd.js";

export const OPTIMIZER_NAMES = ["sgd", "adam", "adamw", "lars"] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export interface OptimizerConfig {
  name: OptimizerName;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
  beta1?: number;
  beta2?: number;
  eps?: number;
  trustCoefficient?: number;
}

export function createOptimizer(cfg: OptimizerConfig): Optimizer {
  switch (cfg.name) {
    case "sgd":
      return new SGD({ momentum: cfg.momentum ?? 0, nesterov: cfg.nesterov, weightDecay: cfg.weightDecay });
    case "adam":
      return new Adam(cfg);
    case "adamw":
      return new AdamW(cfg);
    case "lars":
      return new LARS(cfg);
    default: {
      const name: never = cfg.name;
      throw new Error(`unknown optimizer "${String(name)}"; use one of ${OPTIMIZER_NAMES.join(", ")}`);
    }
  }
}
