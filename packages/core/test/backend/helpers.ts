/**
 * Shared set-up for the wasm kernel tests: both backends loaded, selfsup's kernels registered,
 * and "compute on one backend, read the values, compute on the other, compare".
 */
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { loadNativeFromDir, nativeDir } from "../../src/backend/native-dir.js";
import { registerNativeKernels } from "../../src/backend/native-kernels.js";
import { registerWasmTrainingKernels } from "../../src/backend/wasm-kernels/index.js";
import { activateWebGpu, webgpuDir, webgpuInstalled } from "../../src/backend/webgpu.js";
import { registerWebGpuKernels } from "../../src/backend/webgpu-kernels.js";

export { tf };

/**
 * The native "tensorflow" backend, when `selfsup backend build-native` has built it into
 * nativeDir() (.ci/run does, when a TensorFlow wheel is on the machine, and sets SELFSUP_NATIVE_DIR).
 * Loaded here, at import, so that `describe.skipIf(!HAS_NATIVE)` can decide before tests run.
 */
export const HAS_NATIVE: boolean = (() => {
  try {
    return loadNativeFromDir("@tensorflow/tfjs-node") !== undefined;
  } catch (err) {
    // Built but broken: say so loudly, the tensorflow tests then run and fail on setBackend.
    process.stderr.write(
      `warning: the native backend in ${nativeDir()} failed to load: ${(err as Error).message}\n`,
    );
    return true;
  }
})();
export const NATIVE_SKIP = `no native tensorflow backend in ${nativeDir()} (selfsup backend build-native; SELFSUP_NATIVE_DIR)`;

/**
 * The webgpu backend, when `selfsup backend add webgpu` has installed it (SELFSUP_WEBGPU_DIR; .ci/run
 * does) and an adapter can be had (a GPU, or Mesa's llvmpipe through EGL). Why not, otherwise.
 */
export const WEBGPU_SKIP: string | undefined = await (async () => {
  if (!webgpuInstalled())
    return `webgpu is not installed in ${webgpuDir()} (selfsup backend add webgpu; SELFSUP_WEBGPU_DIR)`;
  const r = await activateWebGpu(true);
  if (!r.ok) return `no webgpu: ${r.reason}`;
  registerWebGpuKernels();
  return undefined;
})();
export const HAS_WEBGPU = WEBGPU_SKIP === undefined;

/** The backends checked against cpu: wasm, and tensorflow / webgpu when they can be had. */
export const BACKENDS_UNDER_TEST: string[] = [
  "wasm",
  ...(HAS_NATIVE ? ["tensorflow"] : []),
  ...(HAS_WEBGPU ? ["webgpu"] : []),
];

let ready: Promise<void> | undefined;

/** Registers the kernels and initialises both backends once per test file. */
export function setupBackends(): Promise<void> {
  ready ??= (async () => {
    // Not IS_TEST: its kernel leak check counts the copy that wasm's Identity kernel makes for
    // every tensor a customGrad op saves (cpu shares the data instead), a false positive.
    registerWasmTrainingKernels();
    if (HAS_NATIVE) registerNativeKernels();
    for (const b of ["cpu", ...BACKENDS_UNDER_TEST]) {
      await tf.setBackend(b);
      await tf.ready();
    }
  })();
  return ready;
}

/** Seeded uniform [-1, 1) values (mulberry32), so failures reproduce. */
export function randomValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

export interface Result {
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array;
}

/**
 * Runs `fn` on `backend` and returns its outputs' shapes and values (all tensors it made are
 * disposed). Inputs are given as plain arrays so that each backend builds its own tensors.
 */
export async function onBackend(backend: string, fn: () => tf.Tensor | tf.Tensor[]): Promise<Result[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const out = fn();
    const list = Array.isArray(out) ? out : [out];
    return list.map((t) => ({ shape: t.shape.slice(), values: t.dataSync().slice() }));
  });
}

/** max |a - b| / max(|b|, tiny): relative to the reference's scale. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  let s = 1e-12;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as "not <="
    s = Math.max(s, Math.abs(b[i]));
  }
  return m / s;
}

/** Runs `fn` on wasm and cpu and asserts equal shapes and values within `tol` (relative). */
export async function expectWasmMatchesCpu(
  fn: () => tf.Tensor | tf.Tensor[],
  tol = 1e-4,
  label = "",
): Promise<void> {
  await expectMatchesCpu("wasm", fn, tol, label);
}

/** Runs `fn` on `backend` and cpu and asserts equal shapes and values within `tol` (relative). */
export async function expectMatchesCpu(
  backend: string,
  fn: () => tf.Tensor | tf.Tensor[],
  tol = 1e-4,
  label = "",
): Promise<void> {
  const got = await onBackend(backend, fn);
  const want = await onBackend("cpu", fn);
  if (got.length !== want.length)
    throw new Error(`${label}: ${got.length} outputs on ${backend}, ${want.length} on cpu`);
  for (let i = 0; i < got.length; i++) {
    if (got[i].shape.join() !== want[i].shape.join()) {
      throw new Error(
        `${label}: output ${i} has shape [${got[i].shape}] on ${backend}, [${want[i].shape}] on cpu`,
      );
    }
    const err = relError(got[i].values, want[i].values);
    if (!(err <= tol))
      throw new Error(
        `${label}: output ${i} on ${backend} differs from cpu by ${err} (relative), tolerance ${tol}`,
      );
  }
}

/** A tensor of seeded values, built on the current backend. */
export function rand(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(randomValues(n, seed), shape);
}
