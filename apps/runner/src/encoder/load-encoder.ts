import {
  type Dataset,
  type FeatureModule,
  type InputSpec,
  loadCheckpoint,
  type Method,
  type Registry,
  readManifest,
  restoreMethodWeights,
  tf,
} from "@selfsup/core";
import { resolveOrThrow } from "../commands/train.js";
import { parseStoredRunConfig, type ResolvedRunConfig } from "../config.js";
import { CliError, EXIT } from "../exit-codes.js";
import { loadRegistry } from "../plugins.js";
import { buildMethod } from "../run/build.js";
import { loadDataset } from "../run/dataset.js";
import { type CheckpointChoice, findRunCheckpoint } from "../run/run-checkpoint.js";

export type { CheckpointChoice } from "../run/run-checkpoint.js";

export interface LoadEncoderOptions {
  /** Default "latest" (the newest checkpoint whose files match their manifest). */
  checkpoint?: CheckpointChoice;
  /** Plugin registry (default: the built-ins plus installed plugins, as the CLI loads them). */
  registry?: Registry;
  /** Told of anything passed over (a torn checkpoint and the one used instead). Default: stderr. */
  onWarning?: (message: string) => void;
}

export interface EncoderSource {
  runId: string;
  runName: string | null;
  method: string;
  backbone: { name: string; options: Record<string, unknown> };
  dataset: string;
  checkpoint: { dir: string; step: number };
}

/** A trained encoder in eval mode. Dispose it when done (it holds its weights as tensors). */
export interface LoadedEncoder {
  /** What `embed` takes: images [B, H, W, C] float32 in [0, 1] (NHWC, no further normalisation) or token ids [B, T] int32. */
  readonly input: InputSpec;
  /** Length of one embedding. */
  readonly outputDim: number;
  /** Where it came from: run, method, backbone (name and options), checkpoint. */
  readonly source: EncoderSource;
  /** The encoder module itself (eval mode), e.g. for export. */
  readonly module: FeatureModule;
  /** Embeddings of a batch tensor [B, ...input] -> [B, outputDim] (the caller disposes both). */
  embed(x: tf.Tensor): tf.Tensor2D;
  /** Embeddings of samples (HWC floats in [0, 1], or token ids), one Float32Array per sample. */
  embed(samples: ReadonlyArray<Float32Array | Int32Array>): Float32Array[];
  dispose(): void;
}

/** What `openRunEncoder` gives: the encoder, and what it was built from (for `embed`). */
export interface OpenedRun {
  encoder: LoadedEncoder;
  config: ResolvedRunConfig;
  /** The run's dataset, loaded to learn its input spec (reuse it to embed the run's own data); the caller closes it (`closeDataset`). */
  dataset: Dataset;
  registry: Registry;
}

export async function openRunEncoder(source: string, opts: LoadEncoderOptions = {}): Promise<OpenedRun> {
  const warn = opts.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  const registry = opts.registry ?? (await loadRegistry()).registry;
  const { run, dir } = await findRunCheckpoint(source, { checkpoint: opts.checkpoint ?? "latest", warn });
  let cfg = resolveOrThrow(parseStoredRunConfig(run.config, run.id), registry);
  const dataset = await loadDataset(registry, cfg.dataset);
  let method: Method;
  try {
    cfg = resolveOrThrow(cfg, registry, dataset.input);
    method = buildMethod(registry, cfg, dataset.input);
  } catch (err) {
    await closeDataset(dataset);
    throw err;
  }
  try {
    const ckpt = await loadCheckpoint(dir);
    try {
      restoreMethodWeights(method, ckpt.weights, dir);
    } finally {
      ckpt.dispose();
    }
  } catch (err) {
    method.dispose();
    await closeDataset(dataset);
    throw new CliError(`cannot load ${dir}: ${(err as Error).message}`, EXIT.failure);
  }
  const manifest = await readManifest(dir);
  const module = method.encoder();
  module.eval();
  const backbone = cfg.backbone ?? { name: "?", options: {} };
  const encoder = makeEncoder(method, module, dataset.input, {
    runId: run.id,
    runName: run.name ?? null,
    method: cfg.method.name,
    backbone: { name: backbone.name, options: backbone.options as Record<string, unknown> },
    dataset: cfg.dataset.name,
    checkpoint: { dir, step: manifest.step },
  });
  return { encoder, config: cfg, dataset, registry };
}

/**
 * Loads a run's encoder (see the file comment). Example:
 *
 * ```ts
 * const enc = await loadEncoder("my-run");
 * const x = tf.randomUniform([8, ...shapeOf(enc.input)]);
 * const z = enc.embed(x); // [8, enc.outputDim]
 * enc.dispose();
 * ```
 */
export async function loadEncoder(source: string, opts: LoadEncoderOptions = {}): Promise<LoadedEncoder> {
  const opened = await openRunEncoder(source, opts);
  await closeDataset(opened.dataset); // it was only needed for its input spec
  return opened.encoder;
}

/** Closes a dataset that holds workers or files (image-folder's decode pool); others have nothing to close. */
export async function closeDataset(dataset: Dataset): Promise<void> {
  await (dataset as { close?: () => Promise<void> }).close?.().catch(() => undefined);
}

/** The per-sample shape of an input spec: [H, W, C] or [T]. */
export function sampleShape(input: InputSpec): number[] {
  return input.kind === "image" ? [input.height, input.width, input.channels] : [input.seqLen];
}

function makeEncoder(
  method: Method,
  module: FeatureModule,
  input: InputSpec,
  source: EncoderSource,
): LoadedEncoder {
  const shape = sampleShape(input);
  const per = shape.reduce((a, b) => a * b, 1);
  function forward(x: tf.Tensor): tf.Tensor2D {
    const want = `[B, ${shape.join(", ")}]`;
    if (x.rank !== shape.length + 1 || x.shape.slice(1).some((d, i) => d !== shape[i]))
      throw new Error(
        `the encoder of run ${source.runId} takes ${want} (${input.kind === "image" ? "NHWC floats in [0, 1]" : "int32 token ids"}), got [${x.shape}]`,
      );
    return tf.tidy(() => tf.reshape(module.forward(x), [x.shape[0] as number, -1]) as tf.Tensor2D);
  }
  function embed(x: tf.Tensor): tf.Tensor2D;
  function embed(samples: ReadonlyArray<Float32Array | Int32Array>): Float32Array[];
  function embed(arg: tf.Tensor | ReadonlyArray<Float32Array | Int32Array>): tf.Tensor2D | Float32Array[] {
    if (arg instanceof tf.Tensor) return forward(arg);
    if (arg.length === 0) return [];
    const packed =
      input.kind === "image" ? new Float32Array(arg.length * per) : new Int32Array(arg.length * per);
    arg.forEach((s, i) => {
      if (s.length !== per)
        throw new Error(
          `sample ${i} has ${s.length} values; the encoder takes ${per} ([${shape.join(", ")}])`,
        );
      packed.set(s, i * per);
    });
    const x = tf.tensor(packed, [arg.length, ...shape], input.kind === "image" ? "float32" : "int32");
    try {
      const z = forward(x);
      const flat = z.dataSync() as Float32Array;
      z.dispose();
      const d = flat.length / arg.length;
      return arg.map((_, i) => flat.slice(i * d, (i + 1) * d));
    } finally {
      x.dispose();
    }
  }
  return {
    input,
    outputDim: module.outputDim,
    source,
    module,
    embed,
    dispose: () => method.dispose(),
  };
}
