/**
 * The method conformance kit: plain async checks that any Method (ours or a third party's) must
 * pass. Each check builds the method from its spec with tiny fixtures (a small MLP encoder, a
 * synthetic labelled dataset) and throws a `ConformanceError` that says what is wrong and what
 * would be right. `describeMethodConformance` (index.ts) registers them as vitest tests.
 *
 *   options       the option schema accepts {} and the method builds: name, views, encoder shape,
 *                 trainable variables that all belong to modules()
 *   finite-loss   one train step returns a finite scalar loss and finite metrics
 *   loss-falls    the loss falls over a few dozen steps on the synthetic dataset
 *   no-leaks      tf.memory().numTensors is constant across steps after warm-up
 *   checkpoint    save after some steps, restore into a differently initialised method: identical
 *                 encoder outputs and identical losses for the following steps
 *   determinism   two runs with one seed give identical losses
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtinAugmentations } from "../augment/builtins.js";
import { buildPipeline, makeViews } from "../augment/pipeline.js";
import { createRegistry } from "../builtin-plugin.js";
import { methodBuildContext } from "../method/build-context.js";
import type { FeatureModule } from "../nn/module.js";
import type { Registry } from "../plugin/registry.js";
import type {
  Dataset,
  InputSpec,
  Method,
  MethodBuildContext,
  MethodSpec,
  StepContext,
  TrainBatch,
} from "../plugin/types.js";
import { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { checkpointing } from "../train/callbacks.js";
import type { TrainConfigInput } from "../train/config.js";
import { type LoadedBatch, splitBatches } from "../train/loader.js";
import { Minimizer, methodParams } from "../train/minimizer.js";
import { createOptimizer } from "../train/optimizers/index.js";
import { constantLr } from "../train/schedule.js";
import { Trainer, type ViewMaker } from "../train/trainer.js";
import { tinyDatasetFor, tinyEncoder } from "./fixtures.js";

export class ConformanceError extends Error {
  override name = "ConformanceError";
}

export const CONFORMANCE_CHECKS = [
  "options",
  "finite-loss",
  "loss-falls",
  "no-leaks",
  "checkpoint",
  "determinism",
] as const;
export type ConformanceCheck = (typeof CONFORMANCE_CHECKS)[number];

export interface ConformanceOptions {
  /** Raw method options (parsed with the spec's schema; default: the spec's `tinyOptions`, else {}). */
  options?: Record<string, unknown>;
  /** Input spec (default: 16x16x3 images, or 16 tokens of a 32-word vocabulary for text-only methods). */
  input?: InputSpec;
  /** Dataset (default: a synthetic labelled one matching `input`). */
  dataset?: Dataset;
  /** Encoder the method gets from `ctx.buildBackbone()` (default: a tiny MLP). */
  backbone?: (input: InputSpec, rng: Rng) => FeatureModule;
  /** Heads the method asks for by name (default: the registry's heads, e.g. "mlp", "predictor"). */
  buildHead?: (name: string, options: Record<string, unknown>, inputDim: number, rng: Rng) => FeatureModule;
  /** Registry for named backbones/heads (default: core's built-ins). */
  registry?: Registry;
  /** View maker (default: the method's defaultAugmentation pipeline, else seeded pixel noise). */
  augment?: ViewMaker;
  /** Batch size (default 16). */
  batchSize?: number;
  /** Steps of the loss-falls check (default 40). */
  lossSteps?: number;
  /** Trainer config overrides (optimizer, lr, ...); default AdamW lr 2e-3, constant schedule. */
  train?: TrainConfigInput;
  /** Checks to skip, e.g. ["loss-falls"] for a method whose loss is not monotone at this scale. */
  skip?: ConformanceCheck[];
  /** Seed of everything (default 0). */
  seed?: number;
}

interface Resolved {
  spec: MethodSpec;
  input: InputSpec;
  dataset: Dataset;
  opts: ConformanceOptions;
  batchSize: number;
  seed: number;
}

function resolve(spec: MethodSpec, opts: ConformanceOptions): Resolved {
  const input: InputSpec =
    opts.input ??
    opts.dataset?.input ??
    (spec.inputs.includes("image")
      ? { kind: "image", height: 16, width: 16, channels: 3 }
      : { kind: "text", vocabSize: 32, seqLen: 16 });
  return {
    spec,
    input,
    dataset: opts.dataset ?? tinyDatasetFor(input),
    opts,
    batchSize: opts.batchSize ?? 16,
    seed: opts.seed ?? 0,
  };
}

let defaultRegistry: Registry | undefined;

function buildContext(r: Resolved, rng: Rng): MethodBuildContext {
  defaultRegistry ??= createRegistry();
  return methodBuildContext({
    registry: r.opts.registry ?? defaultRegistry,
    input: r.input,
    rng,
    backbone: r.opts.backbone ?? tinyEncoder,
    ...(r.opts.buildHead ? { buildHead: r.opts.buildHead } : {}),
  });
}

/** Builds the method under test with its default (or given) options and the init seed. */
export function createMethod(
  spec: MethodSpec,
  opts: ConformanceOptions = {},
  initSeed = opts.seed ?? 0,
): Method {
  const r = resolve(spec, opts);
  return createFrom(r, initSeed);
}

function createFrom(r: Resolved, initSeed: number): Method {
  const raw = r.opts.options ?? r.spec.tinyOptions ?? {};
  const parsed = r.spec.options.safeParse(raw);
  if (!parsed.success) {
    throw new ConformanceError(
      `method "${r.spec.name}": its options schema rejects ${JSON.stringify(raw)}: ${parsed.error.message}`,
    );
  }
  return r.spec.create(parsed.data, buildContext(r, new Rng(initSeed)));
}

function noiseViews(): ViewMaker {
  return (x, n, rng) =>
    Array.from({ length: n }, () =>
      tf.tidy(() =>
        x.dtype === "int32"
          ? tf.clone(x)
          : tf.clipByValue(tf.add(x, tf.randomNormal(x.shape, 0, 0.1, "float32", rng.seed())), 0, 1),
      ),
    );
}

function viewMaker(r: Resolved, method: Method): ViewMaker {
  if (r.opts.augment) return r.opts.augment;
  const steps = method.defaultAugmentation?.(r.input);
  if (steps && steps.length > 0 && r.input.kind === "image") {
    const pipeline = buildPipeline(r.opts.registry ?? builtinAugmentations, steps);
    return (x, n, rng) => makeViews(pipeline, x, n, rng);
  }
  return noiseViews();
}

function trainConfig(r: Resolved, maxSteps: number): TrainConfigInput {
  const t = r.opts.train ?? {};
  return {
    epochs: 10_000,
    ...t,
    maxSteps,
    batchSize: r.batchSize,
    seed: r.seed,
    optimizer: { name: "adamw", lr: 2e-3, weightDecay: 1e-4, ...(t.optimizer ?? {}) },
    schedule: { name: "constant", ...(t.schedule ?? {}) },
  };
}

function trainer(
  r: Resolved,
  method: Method,
  maxSteps: number,
  extra: Partial<ConstructorParameters<typeof Trainer>[0]> = {},
): Trainer {
  return new Trainer({
    method,
    dataset: r.dataset,
    config: trainConfig(r, maxSteps),
    augment: viewMaker(r, method),
    ...extra,
  });
}

/** The first batch of the dataset, in order. The caller disposes it. */
async function firstBatch(r: Resolved): Promise<LoadedBatch> {
  const it = splitBatches(r.dataset.train, {
    batchSize: r.batchSize,
    shuffle: false,
    rng: new Rng(0),
    dropLast: true,
    input: r.input,
  });
  const first = await it.next();
  await it.return(undefined);
  if (first.done) throw new ConformanceError(`the dataset has fewer than ${r.batchSize} samples`);
  return first.value;
}

/** The first batch with views from the method's augmentation. The caller disposes it. */
async function fixedBatch(r: Resolved, method: Method, rng: Rng): Promise<TrainBatch> {
  const { inputs, labels } = await firstBatch(r);
  const views = method.views > 0 ? viewMaker(r, method)(inputs, method.views, rng) : [];
  return labels ? { inputs, views, labels } : { inputs, views };
}

function disposeBatch(b: TrainBatch): void {
  b.inputs.dispose();
  for (const v of b.views) v.dispose();
  b.labels?.dispose();
}

/** A StepContext over a fresh optimizer, for stepping a method outside the Trainer. */
function stepper(r: Resolved, method: Method) {
  const cfg = trainConfig(r, 100);
  const minimizer = new Minimizer({
    optimizer: createOptimizer({ name: "adamw", ...(cfg.optimizer ?? {}) } as Parameters<
      typeof createOptimizer
    >[0]),
    params: methodParams(method),
    defaultVars: () => method.trainableVariables(),
    schedule: constantLr(cfg.optimizer?.lr ?? 2e-3),
  });
  const ctx: StepContext = {
    step: 0,
    epoch: 0,
    totalSteps: 100,
    rng: new Rng(r.seed + 1),
    minimize: (f, v) => minimizer.minimize(f, v),
  };
  return {
    ctx,
    step(batch: TrainBatch) {
      const out = method.trainStep(batch, ctx);
      ctx.step += 1;
      minimizer.step += 1;
      return out;
    },
    dispose() {
      minimizer.dispose();
      minimizer.optimizer.dispose();
    },
  };
}

async function withMethod<T>(r: Resolved, seed: number, fn: (m: Method) => Promise<T>): Promise<T> {
  const method = createFrom(r, seed);
  try {
    return await fn(method);
  } finally {
    method.dispose();
  }
}

// ------------------------------------------------------------------ the checks

/** Options default, the method builds, and its encoder, views and variables are well formed. */
export async function checkOptions(spec: MethodSpec, opts: ConformanceOptions = {}): Promise<void> {
  const defaults = spec.options.safeParse({});
  if (!defaults.success)
    throw new ConformanceError(
      `method "${spec.name}": options schema must accept {} (give every option a default): ${defaults.error.message}`,
    );
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(spec.name))
    throw new ConformanceError(
      `method name "${spec.name}" must be lower-case letters, digits, '.', '_' or '-'`,
    );
  if (!spec.description) throw new ConformanceError(`method "${spec.name}" needs a description`);
  const r = resolve(spec, opts);
  if (!spec.inputs.includes(r.input.kind))
    throw new ConformanceError(
      `method "${spec.name}" does not declare support for ${r.input.kind} inputs (inputs: ${spec.inputs.join(", ")})`,
    );
  await withMethod(r, r.seed, async (method) => {
    if (!Number.isInteger(method.views) || method.views < 0)
      throw new ConformanceError(
        `method "${spec.name}": views must be an integer >= 0 (got ${method.views})`,
      );
    const vars = method.trainableVariables();
    if (vars.length === 0) throw new ConformanceError(`method "${spec.name}" has no trainable variables`);
    const named = methodParams(method);
    const stray = vars.filter((v) => !named.has(v));
    if (stray.length > 0) {
      throw new ConformanceError(
        `method "${spec.name}": ${stray.length} trainable variable(s) belong to none of modules()/state() (shapes ${stray.map((v) => `[${v.shape}]`).join(", ")}); checkpoints would not save them`,
      );
    }
    const enc = method.encoder();
    if (!Number.isInteger(enc.outputDim) || enc.outputDim <= 0)
      throw new ConformanceError(
        `method "${spec.name}": encoder().outputDim must be a positive integer (got ${enc.outputDim})`,
      );
    const batch = await fixedBatch(r, method, new Rng(r.seed));
    try {
      const wasTraining = enc.training;
      enc.eval();
      const out = tf.tidy(() => enc.forward(batch.inputs));
      enc.train(wasTraining);
      const shape = out.shape;
      out.dispose();
      if (shape.length !== 2 || shape[0] !== r.batchSize || shape[1] !== enc.outputDim) {
        throw new ConformanceError(
          `method "${spec.name}": encoder().forward of a [${batch.inputs.shape}] batch gave [${shape}], expected [${r.batchSize}, ${enc.outputDim}]`,
        );
      }
    } finally {
      disposeBatch(batch);
    }
  });
}

/** One train step returns a finite scalar loss and finite metrics. */
export async function checkFiniteLoss(spec: MethodSpec, opts: ConformanceOptions = {}): Promise<void> {
  const r = resolve(spec, opts);
  await withMethod(r, r.seed, async (method) => {
    const s = stepper(r, method);
    const batch = await fixedBatch(r, method, new Rng(r.seed));
    try {
      const out = s.step(batch);
      if (typeof out?.loss !== "number" || !Number.isFinite(out.loss)) {
        throw new ConformanceError(
          `method "${spec.name}": trainStep returned loss ${String(out?.loss)}; expected a finite number (return ctx.minimize(...)'s result)`,
        );
      }
      for (const [k, v] of Object.entries(out.metrics ?? {})) {
        if (typeof v !== "number" || !Number.isFinite(v))
          throw new ConformanceError(
            `method "${spec.name}": metric "${k}" is ${String(v)}, expected a finite number`,
          );
      }
    } finally {
      disposeBatch(batch);
      s.dispose();
    }
  });
}

/** The loss falls over `lossSteps` steps: mean of the last 5 below the mean of the first 5. */
export async function checkLossFalls(spec: MethodSpec, opts: ConformanceOptions = {}): Promise<void> {
  const r = resolve(spec, opts);
  const steps = opts.lossSteps ?? 40;
  await withMethod(r, r.seed, async (method) => {
    const { losses } = await trainer(r, method, steps).fit();
    const k = Math.min(5, Math.floor(steps / 2));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(losses.slice(0, k));
    const last = mean(losses.slice(-k));
    if (!(last < first)) {
      throw new ConformanceError(
        `method "${spec.name}": the loss did not fall over ${steps} steps (mean of the first ${k}: ${first.toPrecision(5)}, of the last ${k}: ${last.toPrecision(5)}; all: ${losses.map((l) => l.toPrecision(4)).join(", ")}). ` +
          "Check that the loss depends on the trainable variables inside ctx.minimize's lossFn, or tune `train`/`lossSteps`.",
      );
    }
  });
}

/** tf.memory().numTensors is the same after every step once warm (3 warm-up steps, then 4 measured). */
export async function checkNoLeaks(spec: MethodSpec, opts: ConformanceOptions = {}): Promise<void> {
  const r = resolve(spec, opts);
  await withMethod(r, r.seed, async (method) => {
    const s = stepper(r, method);
    const rng = new Rng(r.seed);
    const counts: number[] = [];
    try {
      for (let i = 0; i < 7; i++) {
        const batch = await fixedBatch(r, method, rng);
        try {
          s.step(batch);
        } finally {
          disposeBatch(batch);
        }
        if (i >= 3) counts.push(tf.memory().numTensors);
      }
    } finally {
      s.dispose();
    }
    const first = counts[0] as number;
    const last = counts.at(-1) as number;
    if (counts.some((c) => c !== first)) {
      const perStep = (last - first) / (counts.length - 1);
      throw new ConformanceError(
        `method "${spec.name}" leaks tensors: tf.memory().numTensors after consecutive steps was ${counts.join(" -> ")} (${perStep > 0 ? "+" : ""}${perStep} per step). ` +
          "Wrap tensor math in tf.tidy, dispose what outlives it, and update state with variable.assign.",
      );
    }
  });
}

/**
 * Trains a reference run; trains a second run that is interrupted and checkpointed mid-way;
 * restores that checkpoint into a method built with another init seed: encoder outputs must be
 * identical to the interrupted run's, and the resumed losses identical to the reference's.
 */
export async function checkCheckpointRoundTrip(
  spec: MethodSpec,
  opts: ConformanceOptions = {},
): Promise<void> {
  const r = resolve(spec, opts);
  const steps = 12;
  const stopAt = 10;
  const runDir = await mkdtemp(join(tmpdir(), `selfsup-conformance-${spec.name}-`));
  try {
    const reference = await withMethod(r, r.seed, async (m) => (await trainer(r, m, steps).fit()).losses);
    const probe = await firstBatch(r);
    const encode = (m: Method) => {
      const enc = m.encoder();
      const was = enc.training;
      enc.eval();
      const out = tf.tidy(() => enc.forward(probe.inputs));
      enc.train(was);
      const values = Array.from(out.dataSync());
      out.dispose();
      return values;
    };
    try {
      const abort = new AbortController();
      const saved = await withMethod(r, r.seed, async (m) => {
        const t = trainer(r, m, steps, {
          callbacks: [
            { onStepEnd: (s) => void (s.step === stopAt && abort.abort()) },
            checkpointing({ runDir }),
          ],
        });
        const res = await t.fit({ signal: abort.signal });
        if (res.status !== "interrupted" || !res.checkpoint)
          throw new ConformanceError(`method "${spec.name}": the interrupted run did not write a checkpoint`);
        return { losses: res.losses, encoded: encode(m) };
      });
      await withMethod(r, r.seed + 1000, async (m) => {
        const t = trainer(r, m, steps);
        await t.restore(runDir);
        const restored = encode(m);
        const differs = restored.findIndex((v, i) => v !== saved.encoded[i]);
        if (differs >= 0 || restored.length !== saved.encoded.length) {
          throw new ConformanceError(
            `method "${spec.name}": after restoring a checkpoint, encoder outputs differ from the saved model's (first at value ${differs}: ${restored[differs]} vs ${saved.encoded[differs]}); some encoder state is missing from modules()/state()`,
          );
        }
        const resumed = (await t.fit()).losses;
        const all = [...saved.losses, ...resumed];
        const at = all.findIndex((l, i) => l !== reference[i]);
        if (at >= 0 || all.length !== reference.length) {
          throw new ConformanceError(
            `method "${spec.name}": the resumed run's loss at step ${at + 1} is ${all[at]}, the uninterrupted run's ${reference[at]}; ` +
              "state outside modules()/state() or randomness not drawn from ctx.rng breaks resume",
          );
        }
      });
    } finally {
      probe.inputs.dispose();
      probe.labels?.dispose();
    }
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

/** Two runs with one seed give identical losses. */
export async function checkDeterminism(spec: MethodSpec, opts: ConformanceOptions = {}): Promise<void> {
  const r = resolve(spec, opts);
  const run = () => withMethod(r, r.seed, async (m) => (await trainer(r, m, 6).fit()).losses);
  const a = await run();
  const b = await run();
  const at = a.findIndex((l, i) => l !== b[i]);
  if (at >= 0) {
    throw new ConformanceError(
      `method "${spec.name}" is not deterministic: with one seed, step ${at + 1} gave losses ${a[at]} and ${b[at]}; draw all randomness from ctx.rng / the build rng (tf random ops take rng.seed())`,
    );
  }
}

export const CHECK_FUNCTIONS: Record<
  ConformanceCheck,
  (spec: MethodSpec, opts?: ConformanceOptions) => Promise<void>
> = {
  options: checkOptions,
  "finite-loss": checkFiniteLoss,
  "loss-falls": checkLossFalls,
  "no-leaks": checkNoLeaks,
  checkpoint: checkCheckpointRoundTrip,
  determinism: checkDeterminism,
};

export const CHECK_TITLES: Record<ConformanceCheck, string> = {
  options: "option defaults validate and the method builds with a well-formed encoder",
  "finite-loss": "one train step returns a finite scalar loss",
  "loss-falls": "the loss falls over a few dozen steps",
  "no-leaks": "no tensors leak per step",
  checkpoint: "a checkpoint round trip restores identical encoder outputs and next-step losses",
  determinism: "two runs with one seed give identical losses",
};

export interface ConformanceResult {
  check: ConformanceCheck;
  ok: boolean;
  skipped: boolean;
  error?: Error;
  ms: number;
}

/** Runs every check (minus `skip`) in order and reports each; never throws for a failed check. */
export async function runMethodConformance(
  spec: MethodSpec,
  opts: ConformanceOptions = {},
): Promise<ConformanceResult[]> {
  const results: ConformanceResult[] = [];
  for (const check of CONFORMANCE_CHECKS) {
    if (opts.skip?.includes(check)) {
      results.push({ check, ok: true, skipped: true, ms: 0 });
      continue;
    }
    const started = performance.now();
    try {
      await CHECK_FUNCTIONS[check](spec, opts);
      results.push({ check, ok: true, skipped: false, ms: performance.now() - started });
    } catch (err) {
      results.push({
        check,
        ok: false,
        skipped: false,
        error: err as Error,
        ms: performance.now() - started,
      });
    }
  }
  return results;
}
