/**
 * Multithreaded XNNPACK for tfjs-backend-wasm under Node (opt-in, experimental).
 *
 * tfjs-backend-wasm 4.22 ships a threaded build (tfjs-backend-wasm-threaded-simd.wasm, Emscripten
 * pthreads over worker_threads in Node, XNNPACK ops on a pthreadpool) but never uses it in Node.
 * Three things stand in the way, each worked around here (see README-wasm.md for the details and
 * the measurements):
 *
 * 1. dist/flags_wasm.js: the flag WASM_HAS_MULTITHREAD_SUPPORT returns false whenever IS_NODE
 *    (TODO in tfjs referencing tensorflow/tfjs#3830). We set the flag to true.
 * 2. dist/backend_wasm.js `init()`: the pthread worker script is handed to Emscripten as a
 *    `blob:` URL (URL.createObjectURL of the inlined worker source) and the main script as a Blob.
 *    Node's worker_threads.Worker only accepts file paths and file:/data: URLs, so the 8 pooled
 *    workers fail to start. We write the worker source to a temporary .cjs file, patched to
 *    `require()` the package's own wasm-out/tfjs-backend-wasm-threaded-simd.js instead of the Blob,
 *    and make URL.createObjectURL return that file for the worker Blob (matched by its exact size;
 *    every other Blob gets a normal blob: URL).
 * 3. src/cc/backend.cc: the thread count is capped at emscripten_num_logical_cores() / 2 (it
 *    assumes two hyper-threads per core), which is os.cpus().length / 2 in Node: one thread on a
 *    2-vCPU machine whatever is requested. We report 2n logical CPUs while the module starts.
 *
 * The pthreads' workers are unref()'d so that they do not keep the process alive.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { tf } from "../tf.js";
import { registerWasmTrainingKernels } from "./wasm-kernels/index.js";

const require = createRequire(import.meta.url);

export interface WasmThreadsResult {
  /** Threads requested. */
  requested: number;
  /** Threads XNNPACK's pool reports after initialisation (1 = single-threaded build). */
  threads: number;
  /** Which wasm binary is running. */
  build: "threaded-simd" | "simd";
}

/** The slice of tfjs-backend-wasm's exports that this module uses. */
interface WasmBackendPackage {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

/** The Emscripten PThread object of the threaded build (only what we touch). */
interface PThreadLike {
  runningWorkers: { unref(): void }[];
  unusedWorkers: { unref(): void }[];
}

const WORKER_NEEDLE =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

let patchedCreateObjectURL = false;

/** Writes the Node-loadable worker script once and routes tfjs' worker Blob to it (step 2). */
function installWorkerShim(): void {
  if (patchedCreateObjectURL) return;
  const pkgDir = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json"));
  const glue = path.join(pkgDir, "wasm-out", "tfjs-backend-wasm-threaded-simd.js");
  const { wasmWorkerContents } = require(
    path.join(pkgDir, "wasm-out", "tfjs-backend-wasm-threaded-simd.worker.js"),
  ) as {
    wasmWorkerContents: string;
  };
  // tfjs escapes newlines before making the Blob; the Blob's size identifies it.
  const escaped = wasmWorkerContents.replace(/\n/g, "\\n");
  if (!escaped.includes(WORKER_NEEDLE)) {
    throw new Error(
      "configureWasmThreads: tfjs-backend-wasm's pthread worker script changed; cannot adapt it for Node",
    );
  }
  const script = escaped.replace(
    WORKER_NEEDLE,
    `global.WasmBackendModuleThreadedSimd=require(${JSON.stringify(glue)});`,
  );
  const version = (require("@tensorflow/tfjs-backend-wasm/package.json") as { version: string }).version;
  const file = path.join(os.tmpdir(), `selfsup-tfjs-backend-wasm-${version}-worker-${process.pid}.cjs`);
  fs.writeFileSync(file, script);
  process.once("exit", () => fs.rmSync(file, { force: true }));
  const size = Buffer.byteLength(escaped);
  const original = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj: Blob): string =>
    obj instanceof Blob && obj.size === size && obj.type === "application/javascript" ? file : original(obj);
  patchedCreateObjectURL = true;
}

/**
 * (Re)starts the wasm backend with `n` XNNPACK threads (n <= 1: the default single-threaded SIMD
 * build) and makes it the active backend. Call it before creating tensors: an already initialised
 * wasm backend is disposed, with its tensors. Experimental: see README-wasm.md for when it helps.
 */
export async function configureWasmThreads(n: number): Promise<WasmThreadsResult> {
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`configureWasmThreads: n must be a positive integer, got ${n}`);
  const wasm = (await import("@tensorflow/tfjs-backend-wasm")) as unknown as WasmBackendPackage;
  registerWasmTrainingKernels();
  const threaded = n > 1;
  if (threaded) installWorkerShim();

  // A backend that is already running keeps its binary: dispose it and register the same factory.
  if (tf.engine().registry.wasm !== undefined) {
    const factory = tf.findBackendFactory("wasm");
    tf.removeBackend("wasm");
    tf.registerBackend("wasm", factory, 2 /* tfjs-backend-wasm's priority */);
  }
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", threaded);
  wasm.setThreadsCount(n);

  const cpus = os.cpus;
  if (threaded) {
    // Step 3: backend.cc uses logical cores / 2. Report enough while the module instantiates.
    os.cpus = () => {
      const real = cpus();
      return Array.from({ length: Math.max(real.length, 2 * n) }, (_, i) => real[i % real.length]);
    };
  }
  try {
    if (!(await tf.setBackend("wasm")))
      throw new Error("configureWasmThreads: the wasm backend did not initialise");
    await tf.ready();
  } finally {
    os.cpus = cpus;
  }
  const module = (tf.backend() as unknown as { wasm: { PThread?: PThreadLike } }).wasm;
  const pthread = module.PThread;
  if (pthread !== undefined) {
    for (const w of [...pthread.runningWorkers, ...pthread.unusedWorkers]) w.unref();
  }
  return {
    requested: n,
    threads: wasm.getThreadsCount(),
    build: pthread !== undefined ? "threaded-simd" : "simd",
  };
}

// ---- the default thread count: a per-machine rule ------------------------------------------------

/** How many XNNPACK threads the wasm backend uses, and why. */
export interface WasmThreadsDecision {
  threads: number;
  /** "env" (SELFSUP_WASM_THREADS), "cores" (one core), "probe" (measured now), "cache" (measured before), "default" (not measured yet). */
  source: "env" | "cores" | "probe" | "cache" | "default";
  why: string;
  probe?: WasmThreadsProbe;
}

/** One measurement, as cached in `$SELFSUP_HOME/wasm-threads.json`. */
export interface WasmThreadsProbe {
  /** Identifies the machine and build the figures hold for. */
  key: string;
  threads: number;
  /** Median ms of the probe workload, single-threaded and with `threads` threads. */
  singleMs: number;
  threadedMs: number;
  speedup: number;
  at: string;
}

/** Threads are used when the probe measures at least this speed-up. */
export const WASM_THREADS_MIN_SPEEDUP = 1.15;

export function wasmThreadsCachePath(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.SELFSUP_HOME || ".selfsup", "wasm-threads.json");
}

/** What a cached probe must match: CPU model, cores, architecture, tfjs-backend-wasm, threads. */
export function wasmThreadsMachineKey(threads: number): string {
  const version = (require("@tensorflow/tfjs-backend-wasm/package.json") as { version: string }).version;
  return `${os.cpus()[0]?.model ?? "cpu"} x${os.availableParallelism()} ${process.arch} tfjs-backend-wasm@${version} threads=${threads}`;
}

function readCache(file: string, key: string): WasmThreadsProbe | undefined {
  try {
    const p = JSON.parse(fs.readFileSync(file, "utf8")) as WasmThreadsProbe;
    return p.key === key && typeof p.speedup === "number" ? p : undefined;
  } catch {
    return undefined;
  }
}

/** A convnet training fragment (conv, its input and filter gradients, pooling, a dense layer). */
function probeWorkload(): number {
  const t0 = performance.now();
  tf.tidy(() => {
    const x = tf.randomUniform([16, 28, 28, 8], -1, 1, "float32", 1);
    const w1 = tf.randomUniform([3, 3, 8, 32], -0.2, 0.2, "float32", 2);
    const w2 = tf.randomUniform([3, 3, 32, 64], -0.1, 0.1, "float32", 3);
    const d = tf.randomUniform([64 * 7 * 7, 128], -0.02, 0.02, "float32", 4);
    const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => {
      const h = tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same"));
      const h2 = tf.maxPool(tf.relu(tf.conv2d(h, c as tf.Tensor4D, 2, "same")), 2, 2, "valid");
      return tf.sum(tf.square(tf.matMul(tf.reshape(h2, [16, -1]), e as tf.Tensor2D)));
    };
    for (const g of tf.grads(f)([x, w1, w2, d])) g.dataSync();
  });
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * Measures the probe workload single-threaded and with `threads` threads, interleaved (3 runs
 * each after a warm-up of each; ~1-2 s on a 2-core machine). Leaves the wasm backend single-threaded.
 */
export async function probeWasmThreads(threads: number): Promise<WasmThreadsProbe> {
  const single: number[] = [];
  const multi: number[] = [];
  for (let round = 0; round < 4; round++) {
    for (const n of [1, threads]) {
      await configureWasmThreads(n);
      const ms = probeWorkload();
      if (round > 0) (n === 1 ? single : multi).push(ms);
    }
  }
  await configureWasmThreads(1);
  const singleMs = median(single);
  const threadedMs = median(multi);
  return {
    key: wasmThreadsMachineKey(threads),
    threads,
    singleMs,
    threadedMs,
    speedup: singleMs / threadedMs,
    at: new Date().toISOString(),
  };
}

/**
 * The rule: `SELFSUP_WASM_THREADS` (a positive integer; 1 = single-threaded) wins; one core: 1;
 * otherwise min(cores, 8) threads if a probe on this machine measured them >= 1.15x faster than
 * one thread. The probe runs when `probe` is true and none is cached for this machine (CPU model,
 * cores, tfjs-backend-wasm version) in `$SELFSUP_HOME/wasm-threads.json` (the CLI allows it;
 * library calls only read the cache). Results are identical whatever the thread count (XNNPACK
 * splits outputs, not sums: tested bit for bit).
 */
export async function decideWasmThreads(
  opts: { probe?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<WasmThreadsDecision> {
  const env = opts.env ?? process.env;
  const raw = env.SELFSUP_WASM_THREADS?.trim();
  if (raw !== undefined && raw !== "" && raw !== "auto") {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`SELFSUP_WASM_THREADS="${raw}" is not a positive integer (or "auto")`);
    return { threads: n, source: "env", why: `SELFSUP_WASM_THREADS=${n}` };
  }
  const cores = os.availableParallelism();
  if (cores < 2) return { threads: 1, source: "cores", why: "one core" };
  const threads = Math.min(cores, 8);
  const file = wasmThreadsCachePath(env);
  let probe = readCache(file, wasmThreadsMachineKey(threads));
  let source: WasmThreadsDecision["source"] = "cache";
  if (probe === undefined) {
    if (!opts.probe)
      return { threads: 1, source: "default", why: `not measured on this machine yet (${file})` };
    probe = await probeWasmThreads(threads);
    source = "probe";
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(probe, null, 2)}\n`);
    fs.renameSync(tmp, file);
  }
  const faster = probe.speedup >= WASM_THREADS_MIN_SPEEDUP;
  const figures = `${threads} threads ${probe.speedup.toFixed(2)}x one thread (${probe.threadedMs.toFixed(0)} vs ${probe.singleMs.toFixed(0)} ms, ${source === "probe" ? "measured now" : `measured ${probe.at.slice(0, 10)}`}; rule >= ${WASM_THREADS_MIN_SPEEDUP}x)`;
  return { threads: faster ? threads : 1, source, why: figures, probe };
}
