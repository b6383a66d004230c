/**
 * Chooses the tensor backend. "auto" tries, in order: @tensorflow/tfjs-node-gpu (CUDA), webgpu on
 * a hardware adapter (Dawn; any GPU vendor), @tensorflow/tfjs-node (native CPU), wasm (our default
 * everywhere), cpu (pure JS, slow). The native and WebGPU packages are optional: a host adds them
 * (`pnpm add @tensorflow/tfjs-node-gpu`, `selfsup backend build-native`, `selfsup backend add
 * webgpu`); our install never needs them. `SELFSUP_BACKEND` overrides the request; "webgpu" asked
 * by name also runs on a software adapter (Mesa's llvmpipe: tests and CI).
 */
import { tf } from "../tf.js";
import { registerCoreGradients } from "./gradients/index.js";
import { loadNativeFromDir, type NativePackage, nativeDir, nativeEnvDefaults } from "./native-dir.js";
import { registerNativeKernels } from "./native-kernels.js";
import { registerWasmTrainingKernels } from "./wasm-kernels/index.js";
import { configureWasmThreads, decideWasmThreads, type WasmThreadsDecision } from "./wasm-threads.js";
import { activateWebGpu, type WebGpuAdapter, webgpuDir, webgpuInstalled } from "./webgpu.js";
import { registerWebGpuKernels } from "./webgpu-kernels.js";

export const BACKEND_NAMES = ["auto", "tensorflow-gpu", "webgpu", "tensorflow", "wasm", "cpu"] as const;
export type BackendRequest = (typeof BACKEND_NAMES)[number];
export type BackendName = Exclude<BackendRequest, "auto">;

export interface BackendAttempt {
  backend: BackendName;
  ok: boolean;
  reason: string;
}

export interface BackendReport {
  /** The backend selfsup asked for (after SELFSUP_BACKEND). */
  requested: BackendRequest;
  /** The backend in use. */
  backend: BackendName;
  /** tfjs' own backend name (tensorflow, wasm, cpu). */
  tfBackend: string;
  /** Why each candidate was chosen or skipped, in the order tried. */
  attempts: BackendAttempt[];
  /** Kernels selfsup registered on top of the backend (wasm training kernels). */
  extraKernels: string[];
  /** The WebGPU adapter, when webgpu was tried and one was found (chosen or not). */
  adapter?: WebGpuAdapter;
  /** On wasm: the thread count and why (see decideWasmThreads). */
  wasmThreads?: WasmThreadsDecision;
}

export interface InitBackendOptions {
  /**
   * On wasm, measure whether threads are faster on this machine when no measurement is cached
   * in $SELFSUP_HOME (~2 s, once per machine). The CLI sets it; library calls only read the cache.
   */
  probeWasmThreads?: boolean;
}

const ORDER: BackendName[] = ["tensorflow-gpu", "webgpu", "tensorflow", "wasm", "cpu"];

let current: BackendReport | undefined;

function isNotFound(err: unknown): boolean {
  const msg = (err as Error).message ?? String(err);
  return /Cannot find (package|module)|Could not resolve|ERR_MODULE_NOT_FOUND/.test(msg);
}

/**
 * Loads a native package: installed next to selfsup (`pnpm add @tensorflow/tfjs-node`), else built
 * by `selfsup backend build-native` into nativeDir(). Returns where it came from, or why not.
 */
async function tryNative(pkg: NativePackage): Promise<{ from?: string; missing?: string }> {
  nativeEnvDefaults();
  try {
    await import(pkg);
    return { from: "node_modules" };
  } catch (err) {
    if (!isNotFound(err))
      return { missing: `${pkg} failed to load: ${(err as Error).message.split("\n")[0]}` };
  }
  const dir = nativeDir();
  try {
    const from = loadNativeFromDir(pkg, dir);
    if (from !== undefined) return { from };
  } catch (err) {
    return { missing: `${pkg} in ${dir} failed to load: ${(err as Error).message.split("\n")[0]}` };
  }
  return {
    missing: `${pkg} is not installed (nor built into ${dir}: see \`selfsup backend build-native\`)`,
  };
}

async function activate(
  backend: BackendName,
  byName: boolean,
  opts: InitBackendOptions,
): Promise<{
  ok: boolean;
  reason: string;
  extraKernels: string[];
  adapter?: WebGpuAdapter;
  wasmThreads?: WasmThreadsDecision;
}> {
  switch (backend) {
    case "webgpu": {
      if (!webgpuInstalled())
        return {
          ok: false,
          reason: `webgpu and @tensorflow/tfjs-backend-webgpu are not installed (nor in ${webgpuDir()}): see \`selfsup backend add webgpu\``,
          extraKernels: [],
        };
      const r = await activateWebGpu(byName);
      const extraKernels = r.ok ? registerWebGpuKernels() : [];
      return { ...r, extraKernels };
    }
    case "tensorflow-gpu":
    case "tensorflow": {
      const pkg = backend === "tensorflow-gpu" ? "@tensorflow/tfjs-node-gpu" : "@tensorflow/tfjs-node";
      const { from, missing } = await tryNative(pkg);
      if (missing !== undefined) return { ok: false, reason: missing, extraKernels: [] };
      const ok = await tf.setBackend("tensorflow");
      const extraKernels = ok ? registerNativeKernels() : [];
      const where = from === "node_modules" ? "" : ` from ${from}`;
      return ok
        ? {
            ok,
            reason: `${pkg} loaded${where} (libtensorflow ${backend === "tensorflow-gpu" ? "with CUDA" : "native CPU"})`,
            extraKernels,
          }
        : { ok, reason: `${pkg} loaded but the tensorflow backend did not initialise`, extraKernels: [] };
    }
    case "wasm": {
      try {
        await import("@tensorflow/tfjs-backend-wasm");
        const extraKernels = registerWasmTrainingKernels();
        const decision = await decideWasmThreads({ probe: opts.probeWasmThreads ?? false });
        const running = tf.findBackend("wasm") as unknown as { wasm?: { PThread?: unknown } } | null;
        const runningThreaded = running?.wasm?.PThread !== undefined;
        let threads = 1;
        if (decision.threads > 1 || runningThreaded) {
          threads = (await configureWasmThreads(decision.threads)).threads;
        } else if (!(await tf.setBackend("wasm"))) {
          return { ok: false, reason: "the wasm backend did not initialise", extraKernels: [] };
        }
        return {
          ok: true,
          reason: `WebAssembly (SIMD) backend with selfsup's training kernels, ${threads} thread${threads > 1 ? "s" : ""} (${decision.why})`,
          extraKernels,
          wasmThreads: decision,
        };
      } catch (err) {
        return { ok: false, reason: `wasm backend failed: ${(err as Error).message}`, extraKernels: [] };
      }
    }
    case "cpu": {
      // tfjs-node brings its own copy of the cpu backend; importing ours after it would only
      // re-register the same kernels (one warning each).
      if (tf.findBackendFactory("cpu") == null) await import("@tensorflow/tfjs-backend-cpu");
      const ok = await tf.setBackend("cpu");
      return {
        ok,
        reason: ok ? "pure JavaScript backend (slow; fallback)" : "cpu backend did not initialise",
        extraKernels: [],
      };
    }
  }
}

/** Initialises the requested backend (or the best available for "auto") and reports the choice. */
export async function initBackend(
  request: BackendRequest = "auto",
  opts: InitBackendOptions = {},
): Promise<BackendReport> {
  const env = process.env.SELFSUP_BACKEND;
  if (env !== undefined && env !== "") {
    if (!(BACKEND_NAMES as readonly string[]).includes(env)) {
      throw new Error(`SELFSUP_BACKEND="${env}" is not a backend; use one of ${BACKEND_NAMES.join(", ")}`);
    }
    request = env as BackendRequest;
  }
  const candidates = request === "auto" ? ORDER : [request];
  const attempts: BackendAttempt[] = [];
  let adapter: WebGpuAdapter | undefined;
  for (const backend of candidates) {
    const r = await activate(backend, request !== "auto", opts);
    attempts.push({ backend, ok: r.ok, reason: r.reason });
    adapter ??= r.adapter;
    if (r.ok) {
      await tf.ready();
      // tfjs-core alone registers no gradient function; training needs them on every backend.
      registerCoreGradients();
      current = {
        requested: request,
        backend,
        tfBackend: tf.getBackend(),
        attempts,
        extraKernels: r.extraKernels,
        ...(adapter !== undefined ? { adapter } : {}),
        ...(r.wasmThreads !== undefined ? { wasmThreads: r.wasmThreads } : {}),
      };
      return current;
    }
  }
  throw new Error(
    `no tensor backend could be started for "${request}":\n${attempts.map((a) => `  ${a.backend}: ${a.reason}`).join("\n")}`,
  );
}

/** The report of the last successful initBackend(), if any. */
export function currentBackend(): BackendReport | undefined {
  return current;
}

export function formatBackendReport(r: BackendReport): string {
  const lines = [`backend: ${r.backend} (requested ${r.requested})`];
  for (const a of r.attempts) lines.push(`  ${a.ok ? "chosen " : "skipped"} ${a.backend}: ${a.reason}`);
  if (r.adapter !== undefined) {
    const a = r.adapter;
    lines.push(
      `  webgpu adapter: vendor ${a.vendor || "(not given)"}, architecture ${a.architecture || "(not given)"}, ` +
        `device ${a.device || "(not given)"}, ${a.software ? "software" : "hardware"} (Dawn ${a.api === "opengles" ? "OpenGL ES" : "default API"}${a.description ? `; ${a.description}` : ""})`,
    );
  }
  if (r.extraKernels.length > 0) lines.push(`  training kernels added: ${r.extraKernels.join(", ")}`);
  return lines.join("\n");
}
