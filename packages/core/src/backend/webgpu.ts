/**
 * The WebGPU backend: `@tensorflow/tfjs-backend-webgpu` on Dawn's Node binding (the `webgpu` npm
 * package, prebuilt for linux-x64/arm64, macOS and Windows inside the package). Any GPU vendor
 * with a Vulkan, Metal or D3D12 driver; on a machine without one, Mesa's llvmpipe through Dawn's
 * OpenGL ES backend (a software adapter: for tests and CI, never chosen by "auto").
 *
 * Both packages are optional: `pnpm add webgpu @tensorflow/tfjs-backend-webgpu` next to selfsup, or
 * `selfsup backend add webgpu`, which installs them (npm registry, install scripts off) into their
 * own npm prefix, `webgpuDir()` = `SELFSUP_WEBGPU_DIR` or `$SELFSUP_HOME/webgpu` (~135 MB: Dawn
 * for every platform), so that no `pnpm install` ever needs or prunes them.
 *
 * Three things make it work in Node, each done here:
 * 1. Adapters. Dawn picks a hardware adapter by itself where a Vulkan/Metal/D3D12 driver exists.
 *    Elsewhere on Linux: `EGL_PLATFORM=surfaceless`, `create(["backend=opengles"])` and an adapter
 *    requested with `featureLevel: "compatibility"` (llvmpipe offers no core adapter). We choose
 *    the adapter and register tfjs' `WebGPUBackend` on it ourselves (its own factory asks for a
 *    core adapter only); `navigator.gpu` is set before the backend module is imported, as it
 *    registers only then.
 * 2. Synchronous reads. tfjs' `readSync` on webgpu (every `dataSync()`/`arraySync()`: the
 *    trainer's loss, the metrics, kNN) goes through an OffscreenCanvas, which Node lacks. Dawn's
 *    Node binding completes `mapAsync` when it processes events, which it schedules with the
 *    global `setImmediate` (a native callback). We wrap `setImmediate` so that such callbacks can
 *    also be run in place: a sync read copies the tensor to a staging buffer, calls `mapAsync` and
 *    runs Dawn's event processing until the buffer is mapped (bounded; then reads it).
 * 3. Kernels and gradients: see webgpu-kernels.ts (and patchIntegerTranspose here).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { tf } from "../tf.js";
import { withoutReregistrationWarnings } from "./native-dir.js";

const require = createRequire(import.meta.url);

/** The Dawn package version `selfsup backend add webgpu` installs (checked here on llvmpipe). */
export const DAWN_PACKAGE_VERSION = "0.6.2";
export const WEBGPU_PACKAGES = ["webgpu", "@tensorflow/tfjs-backend-webgpu"] as const;

/** The npm prefix that `selfsup backend add webgpu` installs into. */
export function webgpuDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SELFSUP_WEBGPU_DIR) return path.resolve(env.SELFSUP_WEBGPU_DIR);
  return path.resolve(env.SELFSUP_HOME || ".selfsup", "webgpu");
}

/** What `selfsup list` says about the adapter. */
export interface WebGpuAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (llvmpipe, lavapipe, SwiftShader, WARP) rather than a GPU. */
  software: boolean;
  /** Dawn's backend: "default" (Vulkan / Metal / D3D12 as the platform has) or "opengles". */
  api: "default" | "opengles";
}

// ---- the packages ---------------------------------------------------------------------------

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}
interface GpuLike {
  requestAdapter(opts?: Record<string, unknown>): Promise<AdapterLike | null>;
}
interface AdapterLike {
  info: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    isFallbackAdapter?: boolean;
  };
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(desc?: Record<string, unknown>): Promise<unknown>;
}
interface BufferLike {
  size: number;
  mapState: string;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
/** The parts of tfjs' WebGPUBackend that the sync read uses. */
interface WebGpuBackendLike {
  tensorMap: { get(id: object): TensorDataLike | undefined };
  bufferManager: {
    acquireBuffer(size: number, usage: number): BufferLike;
    releaseBuffer(b: BufferLike): void;
  };
  commandEncoder: {
    copyBufferToBuffer(a: BufferLike, ao: number, b: BufferLike, bo: number, n: number): void;
  };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  readSync(dataId: object): tf.backend_util.BackendValues;
  convertAndCacheOnCPU(dataId: object, data: tf.backend_util.BackendValues): tf.backend_util.BackendValues;
}
interface TensorDataLike {
  values?: tf.backend_util.BackendValues | null;
  dtype: tf.DataType;
  resource: BufferLike;
  complexTensorInfos?: { real: { dataId: object }; imag: { dataId: object } };
}
type WebGpuBackendClass = new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;

interface Loaded {
  dawn: DawnModule;
  /** Set once tfjs-backend-webgpu is imported (after navigator.gpu exists). */
  WebGPUBackend?: WebGpuBackendClass;
  backendEntry: string;
  from: string;
}

function isNotFound(err: unknown): boolean {
  const msg = (err as Error).message ?? String(err);
  return /Cannot find (package|module)|Could not resolve|ERR_MODULE_NOT_FOUND/.test(msg);
}

/** Where the two packages resolve: next to selfsup, else in webgpuDir(); undefined if neither. */
function resolvePackages(dir: string): { dawnEntry: string; backendEntry: string; from: string } | undefined {
  for (const [req, from] of [
    [require, "node_modules"],
    [createRequire(path.join(dir, "package.json")), dir],
  ] as const) {
    try {
      return {
        dawnEntry: req.resolve("webgpu"),
        backendEntry: req.resolve("@tensorflow/tfjs-backend-webgpu"),
        from,
      };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return undefined;
}

/** Whether the packages are installed (next to selfsup or in webgpuDir()). Cheap: no loading. */
export function webgpuInstalled(dir: string = webgpuDir()): boolean {
  return resolvePackages(dir) !== undefined;
}

// ---- Dawn's event processing, run in place for synchronous reads ----------------------------

interface Scheduled {
  run(): void;
}
const dawnEvents = { capturing: false, captured: [] as Scheduled[], pending: new Set<Scheduled>() };
const realSetImmediate = globalThis.setImmediate;

/**
 * Dawn's binding schedules its event processing with the global `setImmediate`, looked up at each
 * call, passing a native (N-API) function. This wrapper lets those through as usual but remembers
 * them, so that a synchronous read can run one now (and captures new ones while it waits); every
 * other caller (JavaScript functions) goes straight to Node's own setImmediate.
 */
function dawnAwareSetImmediate(fn: (...a: unknown[]) => void, ...args: unknown[]): NodeJS.Immediate {
  if (typeof fn !== "function" || !Function.prototype.toString.call(fn).includes("[native code]"))
    return realSetImmediate(fn, ...args);
  const entry: Scheduled = { run: () => fn(...args) };
  if (dawnEvents.capturing) {
    dawnEvents.captured.push(entry);
    return realSetImmediate(() => {}); // a handle; the entry runs in mapSync or is re-scheduled
  }
  dawnEvents.pending.add(entry);
  return realSetImmediate(() => {
    if (dawnEvents.pending.delete(entry)) entry.run();
  });
}

let immediateInstalled = false;
function installDawnAwareSetImmediate(): void {
  if (immediateInstalled) return;
  immediateInstalled = true;
  for (const key of Reflect.ownKeys(realSetImmediate)) {
    const d = Object.getOwnPropertyDescriptor(realSetImmediate, key);
    if (d !== undefined && !(key in dawnAwareSetImmediate))
      Object.defineProperty(dawnAwareSetImmediate, key, d);
  }
  (globalThis as { setImmediate: unknown }).setImmediate = dawnAwareSetImmediate;
}

/** Loads the `webgpu` package's entry with the setImmediate wrapper in place. */
async function importDawn(entry: string): Promise<DawnModule> {
  installDawnAwareSetImmediate();
  return (await import(pathToFileURL(entry).href)) as DawnModule;
}

function createGpu(dawn: DawnModule, flags: string[]): GpuLike {
  return dawn.create(flags);
}

/** Device limits requested at the adapter's values (the first six are tfjs' own choice). */
const REQUESTED_LIMITS = [
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupSizeX",
  "maxComputeInvocationsPerWorkgroup",
  "maxStorageBuffersPerShaderStage",
  "maxStorageBuffersInFragmentStage",
  "maxStorageBuffersInVertexStage",
  "maxBindingsPerBindGroup",
];

interface DeviceLike {
  addEventListener(type: "uncapturederror", fn: (e: { error?: { message: string } }) => void): void;
}

/** The first validation error the device reported since the last synchronous read. */
let gpuError: string | undefined;

/** Throws (once) the error the GPU device reported, if any. */
export function throwWebGpuError(): void {
  if (gpuError === undefined) return;
  const msg = gpuError;
  gpuError = undefined;
  throw new Error(`webgpu: the device reported an error (results since are invalid): ${msg.split("\n")[0]}`);
}

const SYNC_READ_LIMIT_MS = 600_000;
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Maps `buffer` for reading, processing Dawn's events in place until it is mapped. */
function mapSync(buffer: BufferLike): void {
  dawnEvents.capturing = true;
  const started = performance.now();
  let spins = 0;
  try {
    buffer.mapAsync(1 /* GPUMapMode.READ */).catch(() => {});
    while (buffer.mapState !== "mapped") {
      const next = dawnEvents.captured.shift() ?? takePending();
      if (next === undefined) {
        throw new Error(
          "webgpu: a synchronous read found no Dawn event processing to run (dataSync on webgpu); use await tensor.data()",
        );
      }
      next.run();
      if (buffer.mapState === "mapped") break;
      if (buffer.mapState === "unmapped") {
        throwWebGpuError();
        throw new Error("webgpu: mapping a read-back buffer failed");
      }
      // The GPU (or llvmpipe's threads) is still working: back off from 0 to 1 ms.
      spins++;
      if (spins > 64) Atomics.wait(sleepCell, 0, 0, Math.min(1, (spins - 64) * 0.01));
      if (performance.now() - started > SYNC_READ_LIMIT_MS)
        throw new Error(`webgpu: a synchronous read did not complete in ${SYNC_READ_LIMIT_MS / 1000} s`);
    }
  } finally {
    dawnEvents.capturing = false;
    for (const e of dawnEvents.captured.splice(0)) {
      dawnEvents.pending.add(e);
      realSetImmediate(() => {
        if (dawnEvents.pending.delete(e)) e.run();
      });
    }
  }
}

function takePending(): Scheduled | undefined {
  for (const e of dawnEvents.pending) {
    dawnEvents.pending.delete(e);
    return e;
  }
  return undefined;
}

const COPY_DST = 0x0008;
const MAP_READ = 0x0001;

interface ProgramLike {
  getUserCode(): string;
}

/**
 * tfjs' TransposeProgram writes `A[...]` through `setOutputAtIndex`, whose argument is f32: when A's
 * buffer holds int32/bool values the shader does not compile (the pipeline is invalid, the output
 * garbage). That is the case for int32 tensors and for float32 ones cast from int32 (the cast
 * shares the int32 buffer: `tf.mean(tf.oneHot(...), 0)`). Kernels call the program directly
 * (Transpose, reductions and argMax over a non-last axis), so the fix is on the program: with an
 * integer buffer it writes through `setOutputAtIndexI32`, which converts to the output's type.
 * Shader keys include the buffers' dtypes, so the float variant is untouched.
 */
function patchIntegerTranspose(Backend: WebGpuBackendClass): void {
  const proto = Backend.prototype as unknown as {
    runWebGPUProgram(program: ProgramLike, inputs: unknown, dtype: string, ...rest: unknown[]): unknown;
    __selfsupIntTranspose?: boolean;
  };
  if (proto.__selfsupIntTranspose) return;
  const run = proto.runWebGPUProgram;
  proto.runWebGPUProgram = function runWebGPUProgram(program, inputs, dtype, ...rest) {
    // The buffer's dtype, not the TensorInfo's: a cast from int32 to float32 shares the int32 buffer.
    const input = (inputs as { dataId: object }[])[0];
    const stored =
      input === undefined ? undefined : (this as unknown as WebGpuBackendLike).tensorMap.get(input.dataId);
    if (
      program.constructor.name === "TransposeProgram" &&
      (stored?.dtype === "int32" || stored?.dtype === "bool")
    ) {
      const userCode = program.getUserCode.bind(program);
      program.getUserCode = () => userCode().replace(/setOutputAtIndex\(/g, "setOutputAtIndexI32(");
    }
    return run.call(this, program, inputs, dtype, ...rest);
  };
  Object.defineProperty(proto, "__selfsupIntTranspose", { value: true });
}

/** Replaces WebGPUBackend.readSync (an OffscreenCanvas path in tfjs) by a mapped staging buffer. */
function patchReadSync(Backend: WebGpuBackendClass): void {
  const proto = Backend.prototype as WebGpuBackendLike & { __selfsupSyncRead?: boolean };
  if (proto.__selfsupSyncRead) return;
  proto.readSync = function readSync(this: WebGpuBackendLike, dataId: object) {
    const data = this.tensorMap.get(dataId);
    if (data === undefined) throw new Error(`webgpu: tensor ${JSON.stringify(dataId)} was not registered`);
    if (data.values != null || data.dtype === "string") return data.values as tf.backend_util.BackendValues;
    if (data.dtype === "complex64" && data.complexTensorInfos !== undefined) {
      const re = this.readSync(data.complexTensorInfos.real.dataId) as Float32Array;
      const im = this.readSync(data.complexTensorInfos.imag.dataId) as Float32Array;
      return this.convertAndCacheOnCPU(dataId, tf.backend_util.mergeRealAndImagArrays(re, im));
    }
    const buffer = data.resource;
    const staging = this.bufferManager.acquireBuffer(buffer.size, COPY_DST | MAP_READ);
    this.ensureCommandEncoderReady();
    this.endComputePassEncoder();
    this.commandEncoder.copyBufferToBuffer(buffer, 0, staging, 0, buffer.size);
    this.submitQueue();
    mapSync(staging);
    const bytes = staging.getMappedRange().slice(0);
    staging.unmap();
    this.bufferManager.releaseBuffer(staging);
    throwWebGpuError();
    const values = tf.util.convertBackendValuesAndArrayBuffer(bytes, data.dtype);
    return this.convertAndCacheOnCPU(dataId, values);
  };
  Object.defineProperty(proto, "__selfsupSyncRead", { value: true });
}

// ---- loading and the adapter ----------------------------------------------------------------

let loaded: Loaded | undefined;

async function loadPackages(dir: string): Promise<Loaded | string> {
  if (loaded !== undefined) return loaded;
  const found = resolvePackages(dir);
  if (found === undefined)
    return `webgpu and @tensorflow/tfjs-backend-webgpu are not installed (nor in ${dir}: see \`selfsup backend add webgpu\`)`;
  let dawn: DawnModule;
  try {
    dawn = await importDawn(found.dawnEntry);
  } catch (err) {
    return `webgpu (Dawn) failed to load from ${found.from}: ${(err as Error).message.split("\n")[0]}`;
  }
  return { dawn, backendEntry: found.backendEntry, from: found.from };
}

/** Imports tfjs-backend-webgpu (after navigator.gpu is set) and keeps its WebGPUBackend class. */
function loadBackendModule(l: Loaded): WebGpuBackendClass {
  if (l.WebGPUBackend !== undefined) return l.WebGPUBackend;
  const entry = l.backendEntry;
  const req = createRequire(entry);
  // From webgpuDir() it brings its own tfjs-core copy (same version), which shares the one global
  // engine and registries; it re-sets the platform, and warns about it.
  const mod = withoutReregistrationWarnings(() => req(entry) as { WebGPUBackend?: WebGpuBackendClass });
  if (mod.WebGPUBackend === undefined) throw new Error(`${entry} exports no WebGPUBackend`);
  l.WebGPUBackend = mod.WebGPUBackend;
  patchReadSync(l.WebGPUBackend);
  patchIntegerTranspose(l.WebGPUBackend);
  return l.WebGPUBackend;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render|\bwarp\b/i;

function describeAdapter(a: AdapterLike, api: WebGpuAdapter["api"]): WebGpuAdapter {
  const i = a.info;
  const text = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`;
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    software: i.isFallbackAdapter === true || SOFTWARE.test(text),
    api,
  };
}

export function formatAdapter(a: WebGpuAdapter): string {
  const name = [a.vendor, a.architecture, a.device].filter((s) => s !== "").join(" ") || "unnamed adapter";
  return `${name}${a.description ? ` (${a.description})` : ""}, ${a.software ? "software" : "hardware"}, Dawn ${a.api === "opengles" ? "OpenGL ES" : "default API"}`;
}

/** Whether a Vulkan loader is on this Linux machine (Dawn's default path needs it; it logs otherwise). */
function hasVulkanLoader(): boolean {
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? "").split(":").filter(Boolean),
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/local/lib",
  ];
  return dirs.some((d) => existsSync(path.join(d, "libvulkan.so.1")));
}

interface Chosen {
  adapter: AdapterLike;
  info: WebGpuAdapter;
  gpu: GpuLike;
}

let chosen: Chosen | undefined;

/**
 * Finds an adapter: Dawn's default (Vulkan / Metal / D3D12), then on Linux OpenGL ES through EGL
 * (Mesa's llvmpipe on a GPU-less machine). Returns the best one (hardware first) and notes.
 */
async function findAdapter(dawn: DawnModule): Promise<{ best?: Chosen; notes: string[] }> {
  const notes: string[] = [];
  const found: Chosen[] = [];
  if (process.platform !== "linux" || hasVulkanLoader()) {
    const gpu = createGpu(dawn, []);
    const a =
      (await gpu.requestAdapter({ powerPreference: "high-performance" })) ??
      (await gpu.requestAdapter({ featureLevel: "compatibility" }));
    if (a) found.push({ adapter: a, info: describeAdapter(a, "default"), gpu });
    else notes.push("Dawn found no adapter on its default API");
  } else {
    notes.push("no Vulkan loader (libvulkan.so.1)");
  }
  if (process.platform === "linux" && !found.some((c) => !c.info.software)) {
    // EGL without a display: Mesa's surfaceless platform (a GPU's driver where one is installed).
    process.env.EGL_PLATFORM ??= "surfaceless";
    const gpu = createGpu(dawn, ["backend=opengles"]);
    const a =
      (await gpu.requestAdapter({ powerPreference: "high-performance" })) ??
      (await gpu.requestAdapter({ featureLevel: "compatibility" }));
    if (a) found.push({ adapter: a, info: describeAdapter(a, "opengles"), gpu });
    else
      notes.push("no OpenGL ES adapter through EGL (Debian: libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri)");
  }
  const best = found.find((c) => !c.info.software) ?? found[0];
  return { best, notes };
}

export interface WebGpuActivation {
  ok: boolean;
  reason: string;
  adapter?: WebGpuAdapter;
}

/**
 * Makes "webgpu" the active tfjs backend. `allowSoftware` false (what "auto" asks): a software
 * adapter is reported and refused. The adapter is chosen once per process.
 */
export async function activateWebGpu(
  allowSoftware: boolean,
  dir: string = webgpuDir(),
): Promise<WebGpuActivation> {
  const l = await loadPackages(dir);
  if (typeof l === "string") return { ok: false, reason: l };
  loaded = l;
  if (chosen === undefined) {
    let r: Awaited<ReturnType<typeof findAdapter>>;
    try {
      r = await findAdapter(l.dawn);
    } catch (err) {
      return { ok: false, reason: `Dawn failed while looking for an adapter: ${(err as Error).message}` };
    }
    if (r.best === undefined) return { ok: false, reason: `no WebGPU adapter: ${r.notes.join("; ")}` };
    chosen = r.best;
  }
  const info = chosen.info;
  if (info.software && !allowSoftware) {
    return {
      ok: false,
      reason: `only a software adapter: ${formatAdapter(info)}; auto uses webgpu on a GPU only (SELFSUP_BACKEND=webgpu forces it)`,
      adapter: info,
    };
  }
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) (g as { navigator: object }).navigator = {};
  if (g.navigator?.gpu === undefined)
    Object.defineProperty(g.navigator, "gpu", { value: chosen.gpu, configurable: true, writable: true });
  // tfjs-backend-webgpu uses the WebGPU globals (GPUBufferUsage, GPUMapMode, ...).
  for (const [k, v] of Object.entries(l.dawn.globals)) {
    if (!(k in globalThis))
      Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  }
  let Backend: WebGpuBackendClass;
  try {
    Backend = loadBackendModule(l);
  } catch (err) {
    return { ok: false, reason: `@tensorflow/tfjs-backend-webgpu failed to load: ${(err as Error).message}` };
  }
  if (tf.engine().registry.webgpu === undefined) {
    const adapter = chosen.adapter;
    if (tf.findBackendFactory("webgpu") != null) tf.removeBackend("webgpu");
    tf.registerBackend(
      "webgpu",
      async () => {
        // As tfjs' own factory, on the adapter chosen here (compatibility adapters included), and
        // with the adapter's storage-buffer limits: a compatibility device defaults to 8 storage
        // buffers per stage, fewer than tfjs' larger kernels bind (AddN, fused convolutions).
        const lim = adapter.limits;
        const requiredLimits: Record<string, number> = {};
        for (const k of REQUESTED_LIMITS) if (typeof lim[k] === "number") requiredLimits[k] = lim[k];
        const device = (await adapter.requestDevice({ requiredFeatures: [], requiredLimits })) as DeviceLike;
        // Validation errors would otherwise only be printed, leaving wrong values behind: keep the
        // first and throw it at the next synchronous read.
        device.addEventListener("uncapturederror", (e) => {
          gpuError ??= e.error?.message ?? String(e);
        });
        return new Backend(device, adapter.info);
      },
      3,
    );
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend("webgpu");
  } catch (err) {
    return {
      ok: false,
      reason: `the webgpu backend failed to start: ${(err as Error).message}`,
      adapter: info,
    };
  }
  if (!ok) return { ok: false, reason: "the webgpu backend did not initialise", adapter: info };
  const where = l.from === "node_modules" ? "" : ` from ${l.from}`;
  return { ok: true, reason: `WebGPU on ${formatAdapter(info)} (Dawn${where})`, adapter: info };
}

// ---- installing -----------------------------------------------------------------------------

export interface WebGpuInstallOptions {
  dir?: string;
  log?: (line: string) => void;
}

export interface WebGpuInstallResult {
  dir: string;
  packages: string[];
  seconds: number;
}

/**
 * `selfsup backend add webgpu`: installs Dawn's Node package and tfjs-backend-webgpu (the version
 * of the tfjs-core in use) into `dir` from the npm registry, install scripts off (Dawn's only
 * clears macOS's quarantine flag; nothing is downloaded besides the packages).
 */
export function installWebGpu(opts: WebGpuInstallOptions = {}): WebGpuInstallResult {
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const dir = path.resolve(opts.dir ?? webgpuDir());
  mkdirSync(dir, { recursive: true });
  const manifest = path.join(dir, "package.json");
  if (!existsSync(manifest)) {
    writeFileSync(
      manifest,
      `${JSON.stringify({ name: "selfsup-webgpu", private: true, description: "installed by selfsup backend add webgpu" }, null, 2)}\n`,
    );
  }
  const tfjs = (
    JSON.parse(readFileSync(require.resolve("@tensorflow/tfjs-core/package.json"), "utf8")) as {
      version: string;
    }
  ).version;
  const packages = [`webgpu@${DAWN_PACKAGE_VERSION}`, `@tensorflow/tfjs-backend-webgpu@${tfjs}`];
  const args = ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", ...packages];
  log(`$ npm ${args.join(" ")}   (in ${dir})`);
  const r = spawnSync("npm", args, { cwd: dir, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`backend add webgpu: could not run npm: ${r.error.message}`);
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-25).join("\n");
    throw new Error(`backend add webgpu: npm install failed (exit ${r.status}):\n${tail}`);
  }
  return { dir, packages, seconds: (performance.now() - t0) / 1000 };
}
