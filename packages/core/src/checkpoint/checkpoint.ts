/**
 * One checkpoint = one directory:
 *
 *   model.json      tfjs-style `weightsManifest` of the weights (module parameters, buffers, method state)
 *   weights.bin     their values, as tf.io.encodeWeights writes them
 *   optimizer.json  optimizer name, step counts and the `weightsManifest` of its slots
 *   optimizer.bin   the slot values
 *   state.json      step, epoch, RNG states, the run config, the latest metrics
 *   manifest.json   format version and the sha256 and size of every file above (written last)
 *
 * Written atomically (see atomic-dir.ts); `loadCheckpoint` verifies sizes and checksums, then
 * names and shapes, and says which file or variable is wrong.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { RngState } from "../rng.js";
import { tf } from "../tf.js";
import { sha256, type WrittenFile, writeDirAtomically } from "./atomic-dir.js";

export const CHECKPOINT_FORMAT = "selfsup-checkpoint";
export const CHECKPOINT_VERSION = 1;

export class CheckpointError extends Error {
  override name = "CheckpointError";
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** An optimizer's state as a checkpoint holds it (see Optimizer.getState()). */
export interface CheckpointOptimizerState {
  name: string;
  /** Updates applied so far. */
  step: number;
  /** Updates applied per parameter (Adam's bias correction). */
  paramSteps: Record<string, number>;
  /** Slot tensors keyed "<param name>/<slot name>". */
  slots: Map<string, tf.Tensor>;
}

/** The JSON part of a checkpoint. */
export interface CheckpointMeta {
  /** Optimizer steps completed. */
  step: number;
  /** Epoch in progress (0-based) at `step`. */
  epoch: number;
  /** RNG states by stream name, to continue every random stream exactly. */
  rng?: Record<string, RngState>;
  /** The run's config, for reference and for resume checks. */
  config?: JsonValue;
  /** Latest metrics at the time of writing (keep-best pruning reads them from the manifest). */
  metrics?: Record<string, number>;
  /** Anything else a trainer needs to continue (e.g. the position inside the epoch). */
  extra?: Record<string, JsonValue>;
}

export interface CheckpointData {
  /** Tensors by name, e.g. "encoder/conv1.weight", "state/queue". */
  weights: ReadonlyMap<string, tf.Tensor>;
  optimizer?: CheckpointOptimizerState;
  meta: CheckpointMeta;
}

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  epoch: number;
  createdAt: string;
  metrics: Record<string, number>;
  files: Record<string, WrittenFile>;
}

export interface LoadedCheckpoint {
  dir: string;
  manifest: CheckpointManifest;
  weights: Map<string, tf.Tensor>;
  optimizer?: CheckpointOptimizerState;
  meta: CheckpointMeta;
  /** Frees every tensor of this checkpoint. */
  dispose(): void;
}

interface WeightsFile {
  format: typeof CHECKPOINT_FORMAT;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

interface OptimizerFile extends WeightsFile {
  name: string;
  step: number;
  paramSteps: Record<string, number>;
}

async function encode(tensors: ReadonlyMap<string, tf.Tensor>, binName: string) {
  const named = [...tensors].map(([name, tensor]) => {
    if (tensor.isDisposed) throw new CheckpointError(`cannot save "${name}": its tensor is already disposed`);
    return { name, tensor };
  });
  const { data, specs } = await tf.io.encodeWeights(named);
  return { bin: new Uint8Array(data), manifest: [{ paths: [binName], weights: specs }] };
}

/** Writes a checkpoint directory atomically and returns its manifest. */
export async function saveCheckpoint(dir: string, data: CheckpointData): Promise<CheckpointManifest> {
  const weights = await encode(data.weights, "weights.bin");
  const opt = data.optimizer ? await encode(data.optimizer.slots, "optimizer.bin") : undefined;
  return writeDirAtomically(dir, async (w) => {
    const files: Record<string, WrittenFile> = {};
    files["weights.bin"] = await w.write("weights.bin", weights.bin);
    const model: WeightsFile = { format: CHECKPOINT_FORMAT, weightsManifest: weights.manifest };
    files["model.json"] = await w.write("model.json", JSON.stringify(model, null, 1));
    if (opt && data.optimizer) {
      files["optimizer.bin"] = await w.write("optimizer.bin", opt.bin);
      const o: OptimizerFile = {
        format: CHECKPOINT_FORMAT,
        name: data.optimizer.name,
        step: data.optimizer.step,
        paramSteps: data.optimizer.paramSteps,
        weightsManifest: opt.manifest,
      };
      files["optimizer.json"] = await w.write("optimizer.json", JSON.stringify(o, null, 1));
    }
    files["state.json"] = await w.write("state.json", JSON.stringify(data.meta, null, 1));
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step: data.meta.step,
      epoch: data.meta.epoch,
      createdAt: new Date().toISOString(),
      metrics: data.meta.metrics ?? {},
      files,
    };
    await w.write("manifest.json", JSON.stringify(manifest, null, 1));
    return manifest;
  });
}

/** Reads and validates manifest.json only (cheap; used to list and prune checkpoints). */
export async function readManifest(dir: string): Promise<CheckpointManifest> {
  const path = join(dir, "manifest.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new CheckpointError(`${path} is missing: ${dir} is not a complete checkpoint`);
  }
  let m: CheckpointManifest;
  try {
    m = JSON.parse(text) as CheckpointManifest;
  } catch (err) {
    throw new CheckpointError(`${path} is not valid JSON (${(err as Error).message})`);
  }
  if (m.format !== CHECKPOINT_FORMAT)
    throw new CheckpointError(
      `${path}: format is ${JSON.stringify(m.format)}, expected "${CHECKPOINT_FORMAT}"`,
    );
  if (m.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `${path}: checkpoint version ${m.version} cannot be read by this version of @selfsup/core (reads version ${CHECKPOINT_VERSION})`,
    );
  }
  return m;
}

async function readVerified(dir: string, manifest: CheckpointManifest, name: string): Promise<Buffer> {
  const entry = manifest.files[name];
  const path = join(dir, name);
  if (!entry) throw new CheckpointError(`${join(dir, "manifest.json")} does not list ${name}`);
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch {
    throw new CheckpointError(`${path} is missing (listed in manifest.json)`);
  }
  if (buf.byteLength !== entry.bytes) {
    throw new CheckpointError(
      `${path} has ${buf.byteLength} bytes but manifest.json records ${entry.bytes}: the file is truncated or corrupted`,
    );
  }
  const actual = sha256(buf);
  if (actual !== entry.sha256) {
    throw new CheckpointError(
      `checksum mismatch in ${path}: manifest.json records sha256 ${entry.sha256}, the file has ${actual}; the file is corrupted or was modified after it was written`,
    );
  }
  return buf;
}

function parseJson<T>(buf: Buffer, path: string): T {
  try {
    return JSON.parse(buf.toString("utf8")) as T;
  } catch (err) {
    throw new CheckpointError(`${path} is not valid JSON (${(err as Error).message})`);
  }
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };

function decode(
  file: WeightsFile,
  bin: Buffer,
  dir: string,
  jsonName: string,
  binName: string,
): Map<string, tf.Tensor> {
  const group = file.weightsManifest?.[0];
  if (!group || file.weightsManifest.length !== 1 || group.paths[0] !== binName) {
    throw new CheckpointError(
      `${join(dir, jsonName)}: expected one weightsManifest group stored in ${binName}`,
    );
  }
  let expectedBytes = 0;
  for (const spec of group.weights) {
    const per = BYTES[spec.dtype];
    if (per === undefined || spec.quantization)
      throw new CheckpointError(`${join(dir, jsonName)}: "${spec.name}" has unsupported dtype ${spec.dtype}`);
    expectedBytes += per * spec.shape.reduce((a, b) => a * b, 1);
  }
  if (expectedBytes !== bin.byteLength) {
    throw new CheckpointError(
      `${join(dir, binName)} has ${bin.byteLength} bytes but ${jsonName} describes ${expectedBytes}`,
    );
  }
  const buffer = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) as ArrayBuffer;
  const named = tf.io.decodeWeights(buffer, group.weights);
  return new Map(group.weights.map((s) => [s.name, named[s.name] as tf.Tensor]));
}

export interface LoadCheckpointOptions {
  /** Expected weight names and shapes; any missing, unexpected or mis-shaped entry is an error. */
  expect?: ReadonlyMap<string, readonly number[]>;
}

/**
 * Reads a checkpoint, verifying every file's size and sha256 against manifest.json, then (with
 * `expect`) every weight's name and shape. Errors name the file or variable at fault.
 */
export async function loadCheckpoint(
  dir: string,
  opts: LoadCheckpointOptions = {},
): Promise<LoadedCheckpoint> {
  const manifest = await readManifest(dir);
  for (const required of ["model.json", "weights.bin", "state.json"]) {
    if (!manifest.files[required])
      throw new CheckpointError(`${join(dir, "manifest.json")} does not list ${required}`);
  }
  // Verify every file before decoding anything.
  const raw = new Map<string, Buffer>();
  for (const name of Object.keys(manifest.files)) raw.set(name, await readVerified(dir, manifest, name));

  const model = parseJson<WeightsFile>(raw.get("model.json") as Buffer, join(dir, "model.json"));
  const meta = parseJson<CheckpointMeta>(raw.get("state.json") as Buffer, join(dir, "state.json"));
  const weights = decode(model, raw.get("weights.bin") as Buffer, dir, "model.json", "weights.bin");
  const disposeAll = (m: Map<string, tf.Tensor>) => {
    for (const t of m.values()) t.dispose();
  };

  let optimizer: CheckpointOptimizerState | undefined;
  if (raw.has("optimizer.json")) {
    const o = parseJson<OptimizerFile>(raw.get("optimizer.json") as Buffer, join(dir, "optimizer.json"));
    const bin = raw.get("optimizer.bin");
    if (!bin) {
      disposeAll(weights);
      throw new CheckpointError(`${join(dir, "manifest.json")} lists optimizer.json but not optimizer.bin`);
    }
    optimizer = {
      name: o.name,
      step: o.step,
      paramSteps: o.paramSteps ?? {},
      slots: decode(o, bin, dir, "optimizer.json", "optimizer.bin"),
    };
  }

  if (opts.expect) {
    const problems: string[] = [];
    for (const [name, shape] of opts.expect) {
      const t = weights.get(name);
      if (!t) problems.push(`missing "${name}"`);
      else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        problems.push(`"${name}" has shape [${t.shape}] but the model expects [${shape}]`);
      }
    }
    for (const name of weights.keys()) if (!opts.expect.has(name)) problems.push(`unexpected "${name}"`);
    if (problems.length > 0) {
      disposeAll(weights);
      if (optimizer) disposeAll(optimizer.slots);
      throw new CheckpointError(
        `${join(dir, "weights.bin")} does not match the model: ${problems.join("; ")}`,
      );
    }
  }

  return {
    dir,
    manifest,
    weights,
    optimizer,
    meta,
    dispose() {
      disposeAll(weights);
      if (optimizer) disposeAll(optimizer.slots);
    },
  };
}

/**
 * Checks a checkpoint directory without decoding it: manifest.json is readable and every file it
 * lists is there with the recorded size and sha256. Throws a CheckpointError naming the file at
 * fault (truncated, flipped byte, missing); used to pick the newest intact checkpoint to resume.
 */
export async function verifyCheckpoint(dir: string): Promise<CheckpointManifest> {
  const manifest = await readManifest(dir);
  for (const required of ["model.json", "weights.bin", "state.json"]) {
    if (!manifest.files[required])
      throw new CheckpointError(`${join(dir, "manifest.json")} does not list ${required}`);
  }
  for (const name of Object.keys(manifest.files)) await readVerified(dir, manifest, name);
  return manifest;
}
