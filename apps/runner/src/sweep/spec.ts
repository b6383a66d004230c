/**
 * The sweep file (YAML or JSON), validated with zod, and the checks that need the registry and the
 * base run config: every problem is reported before anything is stored or queued, each naming its
 * field. Shape:
 *
 * ```yaml
 * name: lr-and-temperature
 * run: { method: { name: simclr }, dataset: { name: mnist, limit: 256 }, training: { epochs: 2 } }
 * search: random            # grid | random | tpe
 * metric: { name: knn_top1, goal: maximize }
 * parameters:               # config path -> one of values | choice | uniform | log_uniform | int_uniform
 *   training.optimizer.lr: { log_uniform: [0.0001, 0.01] }
 *   method.options.temperature: { values: [0.1, 0.5] }
 * seeds: 2                  # each configuration trained with N seeds (training.seed + 0..N-1)
 * seed: 0                   # the sampler's seed
 * budget: { trials: 4, max_concurrent: 1 }
 * early_stop: { type: asha, min_epochs: 1, reduction_factor: 2 }
 * tpe: { startup_trials: 4, candidates: 24, gamma: 0.25 }
 * ```
 */
import { formatZodError, type InputSpec, type Registry } from "@selfsup/core";
import { z } from "zod";
import {
  asConfigError,
  ConfigError,
  explainIssues,
  parseRunConfig,
  type RunConfig,
  readConfigFile,
  resolveRunConfig,
  scalarFromFlag,
  setPath,
} from "../config.js";
import { rungEpochs } from "./asha.js";
import { type Distribution, gridSize, type Params, type Space } from "./space.js";
import { defaultStartup } from "./tpe.js";

const range = z.tuple([z.number(), z.number()]);
const parameterSchema = z
  .strictObject({
    values: z.array(z.unknown()).min(1, "needs at least one value").optional(),
    choice: z.array(z.unknown()).min(1, "needs at least one value").optional(),
    uniform: range.optional(),
    log_uniform: range.optional(),
    int_uniform: z.tuple([z.number().int(), z.number().int()]).optional(),
  })
  .superRefine((p, ctx) => {
    const kinds = Object.keys(p).filter((k) => (p as Record<string, unknown>)[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message: `needs exactly one of values, choice, uniform, log_uniform, int_uniform (got ${kinds.length === 0 ? "none" : kinds.join(" and ")})`,
      });
      return;
    }
    for (const k of ["uniform", "log_uniform", "int_uniform"] as const) {
      const r = p[k];
      if (!r) continue;
      if (r[0] >= r[1])
        ctx.addIssue({
          code: "custom",
          path: [k],
          message: `low must be below high (got [${r[0]}, ${r[1]}])`,
        });
      if (k === "log_uniform" && r[0] <= 0)
        ctx.addIssue({
          code: "custom",
          path: [k],
          message: `log_uniform needs a positive range (got [${r[0]}, ${r[1]}]); use uniform for ranges that reach 0 or below`,
        });
    }
  });

export const sweepFileSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(48)
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
      "letters, digits, '.', '_' and '-' only, starting with a letter or digit",
    ),
  /** The base run config: anything a `selfsup train` config file takes. */
  run: z.record(z.string(), z.unknown()),
  search: z.enum(["grid", "random", "tpe"]),
  metric: z.strictObject({
    name: z.string().min(1),
    goal: z.enum(["maximize", "minimize"]).default("maximize"),
  }),
  parameters: z
    .record(z.string(), parameterSchema)
    .refine((p) => Object.keys(p).length > 0, "needs at least one parameter"),
  seeds: z
    .number()
    .int()
    .min(1, "must be at least 1 (each configuration is trained with N seeds)")
    .max(50)
    .default(1),
  seed: z.number().int().min(0).default(0),
  budget: z
    .strictObject({
      trials: z.number().int().min(1).max(10_000).optional(),
      max_concurrent: z.number().int().min(1).max(1000).default(1),
    })
    .default({ max_concurrent: 1 }),
  early_stop: z
    .strictObject({
      type: z.literal("asha"),
      min_epochs: z.number().int().min(1).default(1),
      reduction_factor: z.number().int().min(2).default(3),
    })
    .optional(),
  tpe: z
    .strictObject({
      startup_trials: z.number().int().min(1).optional(),
      candidates: z.number().int().min(1).max(1000).default(24),
      gamma: z.number().gt(0).lt(1).default(0.25),
    })
    .optional(),
});

export type SweepFile = z.output<typeof sweepFileSchema>;

/** A sweep ready to run: the file, its space, the resolved base config and the derived numbers. */
export interface SweepPlan {
  spec: SweepFile;
  space: Space;
  /** The base run config, resolved against the registry (defaults filled in). */
  base: RunConfig;
  /** Configurations to try. */
  trials: number;
  epochs: number;
  /** ASHA rung epochs (empty without early_stop). */
  rungs: number[];
  tpe: { startup: number; candidates: number; gamma: number };
}

/** Per-epoch metrics every run reports: the trainer's step metrics (last value of the epoch) and kNN. */
export const STEP_METRICS = ["loss", "lr", "grad_norm", "images_per_sec"] as const;

function toSpace(parameters: SweepFile["parameters"]): Space {
  return Object.entries(parameters).map(([path, p]): readonly [string, Distribution] => {
    if (p.values) return [path, { kind: "values", values: p.values }];
    if (p.choice) return [path, { kind: "choice", values: p.choice }];
    if (p.uniform) return [path, { kind: "uniform", low: p.uniform[0], high: p.uniform[1] }];
    if (p.log_uniform) return [path, { kind: "log_uniform", low: p.log_uniform[0], high: p.log_uniform[1] }];
    const r = p.int_uniform as [number, number];
    return [path, { kind: "int_uniform", low: r[0], high: r[1] }];
  });
}

/** Parses a sweep object; errors name each bad field ("invalid sweep file (x.yaml):\n  budget.trials: ..."). */
export function parseSweepFile(raw: unknown, source = "sweep file"): SweepFile {
  const result = sweepFileSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(formatZodError(explainIssues(result.error, sweepFileSchema), source, raw));
}

/** Reads a sweep file and applies `--set` (to the base run config) and `--name`. */
export async function loadSweepFile(
  file: string,
  opts: { set?: string[]; name?: string } = {},
): Promise<SweepFile> {
  const raw = await readConfigFile(file);
  if (opts.name !== undefined) raw.name = opts.name;
  if (opts.set && opts.set.length > 0) {
    const run =
      raw.run !== null && typeof raw.run === "object" && !Array.isArray(raw.run)
        ? structuredClone(raw.run as Record<string, unknown>)
        : {};
    for (const assignment of opts.set) {
      const eq = assignment.indexOf("=");
      if (eq <= 0) throw new ConfigError(`--set needs field.path=value (got ${JSON.stringify(assignment)})`);
      setParam(run, assignment.slice(0, eq), scalarFromFlag(assignment.slice(eq + 1)));
    }
    raw.run = run;
  }
  return parseSweepFile(raw, `sweep file (${file})`);
}

/** config.ts's setPath with the sweep file's wording for an empty path. */
function setParam(target: Record<string, unknown>, dotted: string, value: unknown): void {
  setPath(target, dotted, value, `empty field path ${JSON.stringify(dotted)}`);
}

function lookup(obj: unknown, keys: string[]): { found: boolean; deepest: unknown; depth: number } {
  let cur: unknown = obj;
  for (let i = 0; i < keys.length; i++) {
    if (
      cur === null ||
      typeof cur !== "object" ||
      Array.isArray(cur) ||
      !((keys[i] as string) in (cur as object))
    )
      return { found: false, deepest: cur, depth: i };
    cur = (cur as Record<string, unknown>)[keys[i] as string];
  }
  return { found: true, deepest: cur, depth: keys.length };
}

/** The raw run config of one trial: the base with the trial's parameters and seed set. */
export function trialRawConfig(spec: SweepFile, params: Params, seedOffset: number): Record<string, unknown> {
  const raw = structuredClone(spec.run);
  for (const [path, value] of Object.entries(params)) setParam(raw, path, value);
  const training = (raw.training ?? {}) as Record<string, unknown>;
  const baseSeed = typeof training.seed === "number" ? training.seed : 0;
  setParam(raw, "training.seed", baseSeed + seedOffset);
  return raw;
}

/** A trial's validated run config; throws ConfigError (the trial is then recorded as invalid). */
export function trialConfig(
  spec: SweepFile,
  params: Params,
  seedOffset: number,
  registry: Registry,
  input?: InputSpec,
): RunConfig {
  const raw = trialRawConfig(spec, params, seedOffset);
  try {
    return resolveRunConfig(parseRunConfig(raw, "trial run config"), registry, input);
  } catch (err) {
    throw asConfigError(err);
  }
}

/** Metrics a run of `config` reports once per epoch (what `metric.name` may be). */
export function perEpochMetrics(config: RunConfig, seen: readonly string[] = []): string[] {
  const out = new Set<string>();
  if (config.eval.knn && config.eval.everyEpochs >= 1) out.add("knn_top1");
  for (const m of STEP_METRICS) out.add(m);
  for (const m of seen) out.add(m);
  return [...out];
}

/**
 * Everything that can be checked before a sweep starts: the base config (names, options), each
 * parameter path exists in it, the metric is one a run reports per epoch, the grid fits the
 * budget, ASHA's rungs fall before the last epoch. `seenMetrics`: metric keys stored runs of this
 * method reported (their method-specific step metrics). Throws one ConfigError listing every problem.
 */
export function planSweep(
  spec: SweepFile,
  registry: Registry,
  opts: { input?: InputSpec; seenMetrics?: readonly string[] } = {},
): SweepPlan {
  const problems: string[] = [];
  let base: RunConfig;
  try {
    base = resolveRunConfig(parseRunConfig(spec.run, "sweep file: run"), registry, opts.input);
  } catch (err) {
    const e = asConfigError(err);
    if (e instanceof ConfigError)
      throw new ConfigError(e.message.replace(/^invalid run config/, "invalid sweep file: run"));
    throw e;
  }
  const space = toSpace(spec.parameters);
  for (const [path] of space) {
    const keys = path.split(".");
    if (keys.some((k) => k.length === 0 || k === "__proto__" || k === "constructor" || k === "prototype")) {
      problems.push(`parameters.${path}: not a config path`);
      continue;
    }
    if (keys[0] === "training" && keys[1] === "seed") {
      problems.push(`parameters.${path}: seeds are set by \`seeds: N\`, not searched`);
      continue;
    }
    const at = lookup(base, keys);
    if (!at.found) {
      const parent = keys.slice(0, at.depth).join(".") || "(root)";
      const near =
        at.deepest !== null && typeof at.deepest === "object" && !Array.isArray(at.deepest)
          ? Object.keys(at.deepest as object)
          : [];
      problems.push(
        `parameters.${path}: no field "${keys[at.depth]}" at ${parent} of the run config${near.length > 0 ? `; fields there: ${near.join(", ")}` : ""}`,
      );
    }
  }
  const metrics = perEpochMetrics(base, opts.seenMetrics);
  if (!metrics.includes(spec.metric.name)) {
    const knnOff =
      spec.metric.name === "knn_top1"
        ? " (knn_top1 is reported per epoch only with run.eval.knn true and run.eval.everyEpochs >= 1)"
        : "";
    problems.push(
      `metric.name: no run of this sweep reports "${spec.metric.name}" per epoch${knnOff}; it reports: ${metrics.join(", ")}`,
    );
  }
  const grid = gridSize(space);
  let trials: number;
  if (spec.search === "grid") {
    if (grid === undefined) {
      const cont = space.filter(([, d]) => d.kind === "uniform" || d.kind === "log_uniform").map(([p]) => p);
      problems.push(
        `search: grid needs values (or int_uniform) for every parameter; continuous: ${cont.join(", ")}`,
      );
      trials = spec.budget.trials ?? 1;
    } else {
      trials = spec.budget.trials ?? grid;
      if (spec.budget.trials !== undefined && grid > spec.budget.trials)
        problems.push(
          `budget.trials: the grid has ${grid} configurations (${space.map(([, d]) => ("values" in d ? d.values.length : d.kind === "int_uniform" ? d.high - d.low + 1 : "?")).join(" x ")})${spec.seeds > 1 ? `, ${grid * spec.seeds} runs with ${spec.seeds} seeds,` : ""} but budget.trials is ${spec.budget.trials}; raise it to ${grid} or drop values`,
        );
      else if (spec.budget.trials !== undefined && spec.budget.trials > grid) trials = grid;
    }
  } else {
    if (spec.budget.trials === undefined)
      problems.push(`budget.trials: ${spec.search} search needs a number of trials`);
    trials = spec.budget.trials ?? 1;
  }
  const epochs = base.training.epochs;
  let rungs: number[] = [];
  if (spec.early_stop) {
    if (spec.early_stop.min_epochs >= epochs)
      problems.push(
        `early_stop.min_epochs: ${spec.early_stop.min_epochs} leaves no rung before the last epoch (run.training.epochs is ${epochs})`,
      );
    else rungs = rungEpochs(spec.early_stop.min_epochs, spec.early_stop.reduction_factor, epochs);
    if (base.training.maxSteps !== undefined && base.training.maxSteps !== null)
      problems.push("early_stop: ASHA counts epochs; remove run.training.maxSteps");
  }
  if (problems.length > 0) throw new ConfigError(`invalid sweep file:\n  ${problems.join("\n  ")}`);
  return {
    spec,
    space,
    base,
    trials,
    epochs,
    rungs,
    tpe: {
      startup: spec.tpe?.startup_trials ?? defaultStartup(trials),
      candidates: spec.tpe?.candidates ?? 24,
      gamma: spec.tpe?.gamma ?? 0.25,
    },
  };
}
