/**
 * The training config, the one schema for training in the whole project: core's Trainer parses
 * it, and the runner's run config embeds it as `training` (YAML/JSON, `--set training.x=...`), so
 * every option below is settable from a config file and each default is written once, here.
 *
 * Defaults are chosen for the default backend (wasm on a laptop-class CPU): one epoch of batch 64
 * with Adam at 1e-3 and cosine decay is a ~1 minute SimCLR run on the MNIST digits; the benches
 * set their own longer budgets explicitly.
 *
 * `parseTrainConfig(raw)` applies defaults and reports a bad field by its path. Configs written
 * before this schema (the runner's flat `training: { optimizer: "adam", lr, weightDecay, warmup }`)
 * are rewritten by `migrateTrainConfig` first, so stored runs still load.
 */
import { z } from "zod";
import { formatZodError } from "../plugin/registry.js";
import { OPTIMIZER_NAMES } from "./optimizers/index.js";

export const OptimizerConfigSchema = z.strictObject({
  name: z.enum(OPTIMIZER_NAMES).default("adam"),
  /** Peak learning rate (after warmup). */
  lr: z.number().positive().max(100).default(1e-3),
  /** L2 penalty (sgd, adam, lars) or decoupled decay (adamw); never on biases and norm scales. */
  weightDecay: z.number().min(0).max(1).default(0),
  /** SGD / LARS momentum. */
  momentum: z.number().min(0).max(1).default(0.9),
  nesterov: z.boolean().default(false),
  beta1: z.number().min(0).max(1).default(0.9),
  beta2: z.number().min(0).max(1).default(0.999),
  eps: z.number().positive().default(1e-8),
  /** LARS' eta. */
  trustCoefficient: z.number().positive().default(0.001),
});

export const ScheduleConfigSchema = z.strictObject({
  name: z.enum(["cosine", "constant"]).default("cosine"),
  /** Linear warmup length in epochs (converted with the steps per epoch)... */
  warmupEpochs: z.number().min(0).default(0),
  /** ...or in steps (wins over warmupEpochs when given). */
  warmupSteps: z.number().int().min(0).optional(),
  /** Final learning rate of the cosine decay. */
  minLr: z.number().min(0).default(0),
});

const positiveInt = z.number().int().min(1);

export const TrainConfigSchema = z.strictObject({
  epochs: positiveInt.default(1),
  /** Stop after this many optimizer steps (the schedule spans min(maxSteps, epochs * steps/epoch)). */
  maxSteps: positiveInt.optional(),
  /** Micro-batch size the loader yields (>= 2: BatchNorm needs two samples); the effective batch is batchSize * accumulate. */
  batchSize: z.number().int().min(2).max(65_536).default(64),
  /** Gradient accumulation: micro-batches per optimizer step. */
  accumulate: positiveInt.default(1),
  /** Clip gradients to this global norm (off when absent). */
  clipGradNorm: z.number().positive().optional(),
  optimizer: OptimizerConfigSchema.prefault({}),
  schedule: ScheduleConfigSchema.prefault({}),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .default(0),
  shuffle: z.boolean().default(true),
});

/**
 * Rewrites the runner's pre-0.2 flat training block into this schema's shape:
 * `{ optimizer: "adam", lr, weightDecay, warmup }` -> `{ optimizer: { name, lr, weightDecay },
 * schedule: { warmupSteps } }`. Anything already in the new shape passes through unchanged.
 */
export function migrateTrainConfig(raw: unknown): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const { lr, weightDecay, warmup, optimizer, ...rest } = raw as Record<string, unknown>;
  const flat =
    typeof optimizer === "string" || lr !== undefined || weightDecay !== undefined || warmup !== undefined;
  if (!flat) return raw;
  const opt = optimizer !== undefined && typeof optimizer === "object" ? { ...(optimizer as object) } : {};
  const out: Record<string, unknown> = { ...rest };
  out.optimizer = {
    ...(typeof optimizer === "string" ? { name: optimizer } : {}),
    ...opt,
    ...(lr !== undefined ? { lr } : {}),
    ...(weightDecay !== undefined ? { weightDecay } : {}),
  };
  if (warmup !== undefined) {
    const schedule = rest.schedule !== null && typeof rest.schedule === "object" ? rest.schedule : {};
    out.schedule = { ...schedule, warmupSteps: warmup };
  }
  return out;
}

export type TrainConfig = z.output<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

export function parseTrainConfig(raw: unknown): TrainConfig {
  const r = TrainConfigSchema.safeParse(migrateTrainConfig(raw ?? {}));
  if (!r.success) throw new Error(formatZodError(r.error, "training config", raw));
  return r.data;
}
