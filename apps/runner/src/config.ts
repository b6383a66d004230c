/**
 * The run config: what `selfsup train` reads from a YAML/JSON file and/or flags, validated with
 * zod. Defaults live here, next to the code that uses them. Two stages:
 *
 * 1. `parseRunConfig(raw)`: shape and ranges (field path, bad value and what is allowed on error).
 * 2. `resolveRunConfig(config, registry)`: names checked against the installed plugins (an
 *    unknown name lists the installed ones) and every contribution's options parsed with its own
 *    schema, defaults filled in. The resolved config is what a run stores and a resume reuses.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  BACKEND_NAMES,
  type ContributionKind,
  defaultBackboneFor,
  formatZodError,
  type InputSpec,
  migrateTrainConfig,
  type Registry,
  RegistryError,
  TrainConfigSchema,
} from "@selfsup/core";
import { CONTROL_CHARS_RE, NO_CONTROL_CHARS } from "@selfsup/store";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { OFFICIAL_METHOD_PACKAGES } from "./official-methods.generated.js";
import { assertSafePath } from "./safe-path.js";

/** Names and tags are printed to terminals: no ESC, CR, LF (the store refuses them too). */
const noControl = (s: string) => !CONTROL_CHARS_RE.test(s);

/** A config problem the user can fix; the CLI exits with code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const optionsRecord = z.record(z.string(), z.unknown()).default({});
const named = z.strictObject({ name: z.string().min(1), options: optionsRecord });
const positiveInt = z.number().int().min(1);

export const methodConfigSchema = named;
/**
 * An auxiliary task trained with the method on the same backbone, its loss added with `weight`
 * (e.g. SimCLR + 0.5 x rotation): core's composeMethodSpecs.
 */
export const auxiliaryConfigSchema = z.strictObject({
  name: z.string().min(1),
  weight: z.number().positive().max(1000).default(1),
  options: optionsRecord,
});
export const backboneConfigSchema = named;
export const datasetConfigSchema = z.strictObject({
  name: z.string().min(1),
  options: optionsRecord,
  /** Use only the first N samples of each split (quick runs, tests). */
  limit: positiveInt.optional(),
});
export const augmentationConfigSchema = named;

/** `training` is core's TrainConfig schema itself: one set of fields and defaults (core/src/train/config.ts). */
export const trainingConfigSchema = TrainConfigSchema;

export const evalConfigSchema = z.strictObject({
  knn: z.boolean().default(true),
  linear: z.boolean().default(false),
  fewLabel: z
    .strictObject({
      labelsPerClass: z.array(positiveInt).default([]),
      seeds: z.array(z.number().int().min(0)).min(1).default([0]),
    })
    .default({ labelsPerClass: [], seeds: [0] }),
  /** kNN accuracy logged every N epochs (0: only at the end). */
  everyEpochs: z.number().int().min(0).default(1),
});

export const checkpointConfigSchema = z.strictObject({
  /** Also checkpoint every N optimizer steps (0: only at epoch ends and on interrupt). */
  everySteps: z.number().int().min(0).default(0),
  /** How many of the latest checkpoints to keep (the best one is kept as well). */
  keepLast: positiveInt.default(2),
});

export const runConfigSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).refine(noControl, NO_CONTROL_CHARS).optional(),
  tags: z.array(z.string().trim().min(1).max(64).refine(noControl, NO_CONTROL_CHARS)).default([]),
  method: methodConfigSchema,
  backbone: backboneConfigSchema.optional(),
  dataset: datasetConfigSchema,
  augmentations: z.array(augmentationConfigSchema).optional(),
  auxiliary: z.array(auxiliaryConfigSchema).max(8).default([]),
  training: trainingConfigSchema.prefault({}),
  eval: evalConfigSchema.default(evalConfigSchema.parse({})),
  checkpoint: checkpointConfigSchema.default(checkpointConfigSchema.parse({})),
  backend: z.enum(BACKEND_NAMES).default("auto"),
});

export type RunConfigInput = z.input<typeof runConfigSchema>;
export type RunConfig = z.output<typeof runConfigSchema>;

/**
 * A config whose names exist in the registry and whose options carry every default. `backbone`
 * is filled in from the method's default once the dataset's input is known (at run time).
 */
export type ResolvedRunConfig = RunConfig;

// ---------------------------------------------------------------- error formatting

/** The allowed keys of the (strict) object schema found at `at` inside `schema`, if any. */
function keysAt(schema: z.ZodType, at: PropertyKey[]): string[] | undefined {
  let s: z.ZodType | undefined = schema;
  for (const key of [...at, null]) {
    // unwrap defaults / optionals / pipes until an object or array is reached
    for (let i = 0; i < 10 && s; i++) {
      const def: { type: string; innerType?: z.ZodType; in?: z.ZodType } = (
        s as unknown as { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } }
      ).def;
      if (
        def.type === "default" ||
        def.type === "optional" ||
        def.type === "nullable" ||
        def.type === "prefault"
      )
        s = def.innerType;
      else if (def.type === "pipe") s = def.in;
      else break;
    }
    if (!s) return undefined;
    if (key === null) break;
    if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(key)];
    else if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else return undefined;
  }
  return s instanceof z.ZodObject ? Object.keys(s.shape) : undefined;
}

/**
 * Rewrites zod issues so that each names one field: an unknown key becomes an issue at that key
 * saying which keys are allowed there (zod reports it on the parent object).
 */
export function explainIssues(error: z.ZodError, schema: z.ZodType): z.ZodError {
  const issues = error.issues.flatMap((issue): z.core.$ZodIssue[] => {
    if (issue.code !== "unrecognized_keys") return [issue];
    const allowed = keysAt(schema, issue.path);
    return issue.keys.map((key) => ({
      ...issue,
      path: [...issue.path, key],
      message: `unknown field${allowed ? `; allowed here: ${allowed.join(", ")}` : ""}`,
    }));
  });
  return new z.ZodError(issues as z.core.$ZodIssue[]);
}

/** A config whose `training` block is in the pre-0.2 flat shape gets it rewritten (see migrateTrainConfig). */
function migrateRunConfig(raw: unknown): unknown {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return raw;
  const r = raw as Record<string, unknown>;
  return r.training === undefined ? raw : { ...r, training: migrateTrainConfig(r.training) };
}

/** Validates the shape of a raw config (file + flags); throws ConfigError naming every bad field. */
export function parseRunConfig(raw: unknown, source = "run config"): RunConfig {
  const migrated = migrateRunConfig(raw);
  const result = runConfigSchema.safeParse(migrated);
  if (result.success) return result.data;
  throw new ConfigError(formatZodError(explainIssues(result.error, runConfigSchema), source, migrated));
}

/**
 * A run's config as the store holds it, read back through the same schema (older shapes migrated),
 * so a run resumed or evaluated later sees exactly the fields and defaults of a fresh run.
 */
export function parseStoredRunConfig(raw: unknown, runId: string): ResolvedRunConfig {
  try {
    return parseRunConfig(raw, `stored config of run ${runId}`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new ConfigError(
      `${err.message}\nthis run was stored by an incompatible selfsup version; start a new run with the current config shape (selfsup train --help)`,
    );
  }
}

// ---------------------------------------------------------------- registry resolution

/** "; it is in @selfsup/method-mim: npm i @selfsup/method-mim" for a known method that is not installed. */
export function installHint(method: string): string {
  for (const [pkg, methods] of Object.entries(OFFICIAL_METHOD_PACKAGES)) {
    if (methods.includes(method))
      return `; method "${method}" is in ${pkg}: install it (npm i ${pkg}, or pnpm add ${pkg})`;
  }
  return "";
}

function checkName(registry: Registry, kind: ContributionKind, name: string, field: string): void {
  if (registry.has(kind, name)) return;
  const installed = registry.list(kind).map((e) => e.spec.name);
  const hint = kind === "method" ? installHint(name) : "";
  throw new ConfigError(
    `invalid run config:\n  ${field}: unknown ${kind} ${JSON.stringify(name)}; installed ${kind}s: ${installed.length > 0 ? installed.join(", ") : "(none)"}${hint}`,
  );
}

function parseOptionsAt(
  registry: Registry,
  kind: ContributionKind,
  name: string,
  options: Record<string, unknown>,
  field: string[],
  fullInput: unknown,
): Record<string, unknown> {
  const spec = registry.get(kind, name);
  const result = spec.options.safeParse(options);
  if (result.success) return result.data as Record<string, unknown>;
  const issues = result.error.issues.map((i) => ({ ...i, path: [...field, ...i.path] }));
  const err = explainIssues(new z.ZodError(issues as z.core.$ZodIssue[]), z.object({}));
  throw new ConfigError(formatZodError(err, `run config (options of ${kind} "${name}")`, fullInput));
}

/**
 * Checks every name against the registry and parses every options object with its schema (defaults
 * filled in). Idempotent. A config without a backbone gets the method's default backbone for the
 * dataset's input when `input` is given (the runner passes it once the dataset is loaded).
 */
export function resolveRunConfig(
  config: RunConfig,
  registry: Registry,
  input?: InputSpec,
): ResolvedRunConfig {
  checkName(registry, "method", config.method.name, "method.name");
  checkName(registry, "dataset", config.dataset.name, "dataset.name");
  const method = registry.get("method", config.method.name);
  if (input && !method.inputs.includes(input.kind)) {
    throw new ConfigError(
      `invalid run config:\n  dataset.name: method "${method.name}" trains on ${method.inputs.join(" or ")} inputs, but dataset "${config.dataset.name}" holds ${input.kind}`,
    );
  }
  let backbone = config.backbone;
  if (!backbone && input) {
    const fallback = method.defaultBackbone?.(input) ?? defaultBackboneFor(input);
    backbone = { name: fallback.name, options: fallback.options ?? {} };
  }
  if (backbone) checkName(registry, "backbone", backbone.name, "backbone.name");
  config.auxiliary.forEach((a, i) => {
    checkName(registry, "method", a.name, `auxiliary.${i}.name`);
    const aux = registry.get("method", a.name);
    if (a.name === config.method.name)
      throw new ConfigError(
        `invalid run config:\n  auxiliary.${i}.name: "${a.name}" is already the run's method`,
      );
    if (input && !aux.inputs.includes(input.kind))
      throw new ConfigError(
        `invalid run config:\n  auxiliary.${i}.name: method "${a.name}" trains on ${aux.inputs.join(" or ")} inputs, but dataset "${config.dataset.name}" holds ${input.kind}`,
      );
    if (aux.composable === false)
      throw new ConfigError(
        `invalid run config:\n  auxiliary.${i}.name: method "${a.name}" updates state after its optimizer step (an EMA, a queue), so it cannot be an auxiliary task; make it the run's method instead`,
      );
  });
  (config.augmentations ?? []).forEach((a, i) => {
    checkName(registry, "augmentation", a.name, `augmentations.${i}.name`);
  });
  const resolved: ResolvedRunConfig = {
    ...config,
    method: {
      name: config.method.name,
      options: parseOptionsAt(
        registry,
        "method",
        config.method.name,
        config.method.options,
        ["method", "options"],
        config,
      ),
    },
    dataset: {
      ...config.dataset,
      options: parseOptionsAt(
        registry,
        "dataset",
        config.dataset.name,
        config.dataset.options,
        ["dataset", "options"],
        config,
      ),
    },
  };
  resolved.auxiliary = config.auxiliary.map((a, i) => ({
    name: a.name,
    weight: a.weight,
    options: parseOptionsAt(
      registry,
      "method",
      a.name,
      a.options,
      ["auxiliary", String(i), "options"],
      config,
    ),
  }));
  if (backbone) {
    resolved.backbone = {
      name: backbone.name,
      options: parseOptionsAt(
        registry,
        "backbone",
        backbone.name,
        backbone.options,
        ["backbone", "options"],
        config,
      ),
    };
  }
  if (config.augmentations) {
    resolved.augmentations = config.augmentations.map((a, i) => ({
      name: a.name,
      options: parseOptionsAt(
        registry,
        "augmentation",
        a.name,
        a.options,
        ["augmentations", String(i), "options"],
        config,
      ),
    }));
  }
  return resolved;
}

/** Turns a RegistryError into a ConfigError (bad names or options are the user's to fix). */
export function asConfigError(err: unknown): unknown {
  return err instanceof RegistryError ? new ConfigError(err.message) : err;
}

// ---------------------------------------------------------------- files and flags

/** Reads a YAML or JSON config file (YAML is a superset of JSON; `.json` is parsed strictly). */
export async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === "ENOENT"
        ? `config file ${file} does not exist (relative paths are from ${process.cwd()})`
        : `cannot read config file ${file}: ${code ?? (err as Error).message}`,
    );
  }
  let value: unknown;
  try {
    value = path.extname(file).toLowerCase() === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(
      `config file ${file} is not valid ${path.extname(file) === ".json" ? "JSON" : "YAML"}: ${(err as Error).message}`,
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(
      `config file ${file} must hold an object (method, dataset, training, ...), got ${Array.isArray(value) ? "a list" : typeof value}`,
    );
  }
  return value as Record<string, unknown>;
}

/** Flags of `train` / `submit` that map onto config fields. Strings as commander hands them. */
export interface RunFlags {
  method?: string;
  backbone?: string;
  dataset?: string;
  limit?: string;
  epochs?: string;
  maxSteps?: string;
  batchSize?: string;
  lr?: string;
  optimizer?: string;
  weightDecay?: string;
  warmup?: string;
  seed?: string;
  backend?: string;
  name?: string;
  tag?: string[];
  /** Auxiliary tasks as `name:weight` (e.g. `rotation:0.5`), appended to the config's. */
  aux?: string[];
  /** Generic overrides: `training.clipGradNorm=1`, `training.optimizer.beta2=0.99`, `method.options.temperature=0.2`. */
  set?: string[];
}

/** "3" -> 3, "1e-3" -> 0.001, "true" -> true; anything else stays a string (and zod names it). */
export function scalarFromFlag(value: string): unknown {
  const v = value.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(v)) return Number(v);
  if (v === "true") return true;
  if (v === "false") return false;
  if (v === "null") return null;
  if (v.startsWith("[") || v.startsWith("{")) {
    try {
      return JSON.parse(v);
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * Sets `value` at a dotted field path of a raw config, making the objects on the way; `empty` is
 * the error for a path with no field (the flag's or the sweep file's wording).
 */
export function setPath(
  target: Record<string, unknown>,
  dotted: string,
  value: unknown,
  empty = `--set needs field.path=value (got ${JSON.stringify(dotted)})`,
): void {
  assertSafePath(dotted, (m) => new ConfigError(m));
  const keys = dotted.split(".").filter((k) => k.length > 0);
  if (keys.length === 0) throw new ConfigError(empty);
  let obj: Record<string, unknown> = target;
  for (const key of keys.slice(0, -1)) {
    const next = obj[key];
    if (next === undefined || next === null || typeof next !== "object" || Array.isArray(next)) obj[key] = {};
    obj = obj[key] as Record<string, unknown>;
  }
  obj[keys[keys.length - 1] as string] = value;
}

/** Applies flags over a raw config (flags win). Returns a new object. */
export function applyFlags(base: Record<string, unknown>, flags: RunFlags): Record<string, unknown> {
  const raw = structuredClone(base);
  const put = (field: string, v: string | undefined, asScalar = true) => {
    if (v !== undefined) setPath(raw, field, asScalar ? scalarFromFlag(v) : v);
  };
  put("method.name", flags.method, false);
  put("backbone.name", flags.backbone, false);
  put("dataset.name", flags.dataset, false);
  put("dataset.limit", flags.limit);
  put("training.epochs", flags.epochs);
  put("training.maxSteps", flags.maxSteps);
  put("training.batchSize", flags.batchSize);
  put("training.optimizer.lr", flags.lr);
  put("training.optimizer.name", flags.optimizer, false);
  put("training.optimizer.weightDecay", flags.weightDecay);
  put("training.schedule.warmupSteps", flags.warmup);
  put("training.seed", flags.seed);
  put("backend", flags.backend, false);
  put("name", flags.name, false);
  if (flags.tag && flags.tag.length > 0) {
    const existing = Array.isArray(raw.tags) ? (raw.tags as unknown[]) : [];
    raw.tags = [...existing, ...flags.tag];
  }
  for (const spec of flags.aux ?? []) {
    const m = /^([a-z0-9][a-z0-9._-]*)(?::([0-9.eE+-]+))?$/.exec(spec.trim());
    if (!m)
      throw new ConfigError(`--aux needs method[:weight], e.g. rotation:0.5 (got ${JSON.stringify(spec)})`);
    const list = Array.isArray(raw.auxiliary) ? (raw.auxiliary as unknown[]) : [];
    raw.auxiliary = [...list, { name: m[1], ...(m[2] !== undefined ? { weight: Number(m[2]) } : {}) }];
  }
  for (const assignment of flags.set ?? []) {
    const eq = assignment.indexOf("=");
    if (eq <= 0) throw new ConfigError(`--set needs field.path=value (got ${JSON.stringify(assignment)})`);
    setPath(raw, assignment.slice(0, eq), scalarFromFlag(assignment.slice(eq + 1)));
  }
  // `--backbone x` on a config whose backbone had options for another backbone: keep only the name.
  if (
    flags.backbone !== undefined &&
    base.backbone &&
    (base.backbone as { name?: unknown }).name !== flags.backbone
  ) {
    raw.backbone = { name: flags.backbone };
  }
  return raw;
}

/** Config file (optional) + flags -> a validated RunConfig. Needs at least a method and a dataset. */
export async function loadRunConfig(file: string | undefined, flags: RunFlags): Promise<RunConfig> {
  const base = file ? await readConfigFile(file) : {};
  const raw = applyFlags(base, flags);
  return parseRunConfig(raw, file ? `run config (${file} + flags)` : "run config (flags)");
}
