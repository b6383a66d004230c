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
