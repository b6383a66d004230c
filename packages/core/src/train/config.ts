/**
 * The trainer's config: validated data with its defaults next to the code that uses them.
 * `parseTrainConfig(raw)` applies defaults and reports a bad field by its path.
 */
import { z } from "zod";
import { formatZodError } from "../plugin/registry.js";
import { OPTIMIZER_NAMES } from "./optimizers/index.js";

export const OptimizerConfigSchema = z.object({
  name: z.enum(OPTIMIZER_NAMES).default("adamw"),
  /** Peak learning rate (after warmup). */
  lr: z.number().positive().default(1e-3),
  weightDecay: z.number().min(0).default(0),
  /** SGD / LARS momentum. */
  momentum: z.number().min(0).max(1).default(0.9),
  nesterov: z.boolean().default(false),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.999),
  eps: z.number().positive().default(1e-8),
  /** LARS' eta. */
  trustCoefficient: z.number().positive().default(0.001),
});

export const ScheduleConfigSchema = z.object({
  name: z.enum(["cosine", "constant"]).default("cosine"),
  /** Linear warmup length in epochs (converted with the steps per epoch)... */
  warmupEpochs: z.number().min(0).default(0),
  /** ...or in steps (wins over warmupEpochs when given). */
  warmupSteps: z.number().int().min(0).optional(),
  /** Final learning rate of the cosine decay. */
  minLr: z.number().min(0).default(0),
});

export const TrainConfigSchema = z.object({
  epochs: z.number().int().positive().default(10),
  /** Stop after this many optimizer steps (the schedule spans min(maxSteps, epochs * steps/epoch)). */
  maxSteps: z.number().int().positive().optional(),
  /** Micro-batch size the loader yields; the effective batch is batchSize * accumulate. */
  batchSize: z.number().int().positive().default(256),
  /** Gradient accumulation: micro-batches per optimizer step. */
  accumulate: z.number().int().positive().default(1),
  /** Clip gradients to this global norm (off when absent). */
  clipGradNorm: z.number().positive().optional(),
  optimizer: OptimizerConfigSchema.prefault({}),
  schedule: ScheduleConfigSchema.prefault({}),
  seed: z.number().int().default(0),
  shuffle: z.boolean().default(true),
});

export type TrainConfig = z.output<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

export function parseTrainConfig(raw: unknown): TrainConfig {
  const r = TrainConfigSchema.safeParse(raw ?? {});
  if (!r.success) throw new Error(formatZodError(r.error, "training config", raw));
  return r.data;
}
