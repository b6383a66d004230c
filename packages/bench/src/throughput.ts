/**
 * Training throughput per backend, method and model shape (`pnpm bench throughput`):
 * one optimizer step of each method (all its views, its loss, AdamW) through the Trainer, with
 * identity augmentation so only the step is timed, on synthetic images of the shape's size.
 *
 * Backends: wasm (single-threaded SIMD, the default), "wasm-threads" (the threaded SIMD build
 * with 2 XNNPACK threads, see backend/wasm-threads.ts; a row of its own so the two are compared
 * on every machine the table runs on), and tensorflow / tensorflow-gpu where they load; cpu
 * when asked for (pure JS, minutes per step).
 *
 * A row that cannot run says why instead of stopping the table: a method that refuses the
 * backbone (masked-image methods need a ViT's patch tokens), a step estimated not to fit the
 * wasm heap (with the batch size that fits), or the error the step threw.
 *
 * Columns: images/s (samples per second, each counted once whatever the number of views), ms per
 * step (wall clock), CPU ms per step (this process, all threads: on a machine shared with other
 * jobs the wall clock stretches, CPU time much less), GFLOP per step and achieved GFLOP/s from an analytic count (2 x multiply-adds of every
 * convolution and matrix product, forward and backward, summed from the kernel shapes that
 * `tf.profile` records over one step; elementwise ops are not counted), peak RSS and the backend's
 * own heap (the wasm memory, which never shrinks; JS heap elsewhere) seen during the row, and
 * tensors leaked per step (engine tensor count growth between the first and last timed step).
 *
 * Peak RSS is a process-wide high-water mark: it includes what earlier rows allocated.
 *
 * A row marked "recompute" ran with activation recomputation, which the wasm pre-flight turned on
 * to fit the heap: its GFLOP count includes the recomputed forward pass.
 */

import os from "node:os";
import {
  type BackendName,
  checkStepFitsBackend,
  configureWasmThreads,
  currentBackend,
  initBackend,
  loadSynthetic,
  MemoryEstimateError,
  type Method,
  type MethodBuildContext,
  type Registry,
  Rng,
  type StepMemoryEstimate,
  Trainer,
  tf,
  useActivationRecompute,
} from "@selfsup/core";

export interface ThroughputShape {
  name: string;
  backbone: string;
  backboneOptions: Record<string, unknown>;
  size: number;
  channels: 1 | 3;
  batchSize: number;
}

/** The shapes of issue 13: selfsup's default architectures at ordinary batch sizes. */
export const THROUGHPUT_SHAPES: ThroughputShape[] = [
  {
    name: "convnet-32 28x28x1 b256",
    backbone: "convnet",
    backboneOptions: { width: 32 },
    size: 28,
    channels: 1,
    batchSize: 256,
  },
  {
    name: "resnet18 32x32x3 b128",
    backbone: "resnet18",
    backboneOptions: {},
    size: 32,
    channels: 3,
    batchSize: 128,
  },
  {
    name: "vit-tiny 32x32x3 b128",
    backbone: "vit-tiny",
    backboneOptions: {},
    size: 32,
    channels: 3,
    batchSize: 128,
  },
];

/** A backend of the table: one of selfsup's, or "wasm-threads" (wasm with 2 XNNPACK threads). */
export type ThroughputBackend = BackendName | "wasm-threads";

/** Threads of the "wasm-threads" rows. */
export const WASM_BENCH_THREADS = 2;

export interface ThroughputRow {
  backend: string;
  method: string;
  shape: string;
  batchSize: number;
  imagesPerSec: number;
  msPerStep: number;
  /** Process CPU time per step (all threads). */
  cpuMsPerStep: number;
  gflopPerStep: number;
  gflops: number;
  peakRssMb: number;
  /** wasm: the wasm memory; other backends: the JS heap. */
  peakHeapMb: number;
  leakedPerStep: number;
  /** The step ran with activation recomputation (the wasm pre-flight turned it on to fit the heap). */
  recompute?: boolean;
  /** Why the row has no figures: not run (pre-flight), skipped (method/backbone) or the error. */
  error?: string;
}

export interface ThroughputOptions {
  registry: Registry;
  /** Methods (default: every registered method that takes images). */
  methods?: string[];
  shapes?: ThroughputShape[];
  /** Backends (default: wasm, wasm-threads, and tensorflow / tensorflow-gpu where they load). */
  backends?: ThroughputBackend[];
  /** Timed steps per row (default 2) after one profiled warm-up step. */
  steps?: number;
  log?: (line: string) => void;
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** 2 x multiply-adds of one recorded kernel, from its input and output shapes; 0 when not counted. */
export function kernelFlops(name: string, inputShapes: number[][], outputShapes: number[][]): number {
  const out = outputShapes[0] ?? [];
  switch (name) {
    case "Conv2D":
    case "FusedConv2D": {
      const f = inputShapes[1] ?? []; // [kh, kw, ci, co]
      return 2 * size(out) * (f[0] ?? 0) * (f[1] ?? 0) * (f[2] ?? 0);
    }
    case "DepthwiseConv2dNative":
    case "FusedDepthwiseConv2D": {
      const f = inputShapes[1] ?? [];
      return 2 * size(out) * (f[0] ?? 0) * (f[1] ?? 0);
    }
    case "Conv2DBackpropInput": {
      // inputs dy [n, ho, wo, co], filter [kh, kw, ci, co]: the forward conv's work
      const [dy, f] = inputShapes as [number[], number[]];
      return 2 * size(dy) * (f[0] ?? 0) * (f[1] ?? 0) * (f[2] ?? 0);
    }
    case "Conv2DBackpropFilter": {
      // inputs x, dy [n, ho, wo, co]; output the filter [kh, kw, ci, co]
      const dy = inputShapes[1] ?? [];
      return 2 * size(dy) * (out[0] ?? 0) * (out[1] ?? 0) * (out[2] ?? 0);
    }
    case "BatchMatMul":
    case "_FusedMatMul": {
      // a's matrix is M x K (either orientation) and out's is M x N, so K = |a matrix| / M
      const a = inputShapes[0] ?? [];
      const m = out[out.length - 2] ?? 1;
      const aMatrix = (a[a.length - 1] ?? 1) * (a[a.length - 2] ?? 1);
      return 2 * size(out) * (aMatrix / m);
    }
    default:
      return 0;
  }
}

function heapMb(): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  const wasmBytes = backend.wasm?.HEAPU8?.buffer.byteLength;
  return (wasmBytes ?? process.memoryUsage().heapUsed) / 2 ** 20;
}

/** The backends to measure by default: wasm (one and two threads), and the native ones that load here. */
async function presentBackends(log: (l: string) => void): Promise<ThroughputBackend[]> {
  const found: ThroughputBackend[] = ["wasm", "wasm-threads"];
  for (const b of ["tensorflow", "tensorflow-gpu", "webgpu"] as const) {
    try {
      const r = await initBackend(b);
      // A software WebGPU adapter (llvmpipe) is for numerics, not speed: measured only when asked
      // for by name (--backends webgpu).
      if (r.adapter?.software) log(`  ${b}: not measured by default (software adapter; --backends webgpu)`);
      else found.push(b);
    } catch (err) {
      log(`  ${b}: not measured (${(err as Error).message.split("\n").slice(-1)[0]?.trim()})`);
    }
  }
  return found;
}

function buildMethod(registry: Registry, name: string, shape: ThroughputShape, seed: number): Method {
  const rng = new Rng(seed);
  const input = { kind: "image" as const, height: shape.size, width: shape.size, channels: shape.channels };
  const ctx: MethodBuildContext = {
    input,
    rng,
    buildBackbone: (backbone, options) => {
      const b = backbone ?? shape.backbone;
      return registry
        .get("backbone", b)
        .build(registry.parseOptions("backbone", b, options ?? shape.backboneOptions), input, rng);
    },
    buildHead: (head, options, inputDim) =>
      registry.get("head", head).build(registry.parseOptions("head", head, options), inputDim, rng),
    backboneChoice: { name: shape.backbone, options: shape.backboneOptions },
  };
  return registry.get("method", name).create(registry.parseOptions("method", name, {}), ctx);
}

/** Makes `backend` the active one (wasm's single- or multi-threaded build as asked). */
async function activateBackend(backend: ThroughputBackend): Promise<void> {
  if (backend === "wasm-threads") {
    await initBackend("wasm");
    const r = await configureWasmThreads(WASM_BENCH_THREADS);
    if (r.threads < WASM_BENCH_THREADS)
      throw new Error(
        `the threaded wasm build started with ${r.threads} thread(s), not ${WASM_BENCH_THREADS}`,
      );
  } else {
    // findBackend is null until the backend initialised (undefined when never registered).
    const running = backend === "wasm" ? tf.findBackend("wasm") : null;
    if (running != null) {
      // A threaded wasm backend from an earlier row: back to the default single-threaded build.
      const module = (running as unknown as { wasm?: { PThread?: unknown } }).wasm;
      if (module?.PThread !== undefined) await configureWasmThreads(1);
    }
    await initBackend(backend);
  }
  const want = backend.startsWith("wasm")
    ? "wasm"
    : backend === "cpu" || backend === "webgpu"
      ? backend
      : "tensorflow";
  if (tf.getBackend() !== want) {
    throw new Error(
      `asked for ${backend} but ${tf.getBackend()} is active${process.env.SELFSUP_BACKEND ? ` (SELFSUP_BACKEND=${process.env.SELFSUP_BACKEND} overrides)` : ""}`,
    );
  }
}

/** Why a method cannot be built on this shape's backbone, or undefined when it can. */
function buildError(registry: Registry, method: string, shape: ThroughputShape): string | undefined {
  try {
    buildMethod(registry, method, shape, 0).dispose();
    return undefined;
  } catch (err) {
    return shortReason((err as Error).message);
  }
}

/** The first sentence of an error, at most 120 characters: a table cell, not a manual. */
function shortReason(message: string): string {
  const first = (message.split("\n")[0] ?? message).split(/(?<=[.:;])\s/)[0] ?? message;
  return first.length > 120 ? `${first.slice(0, 119)}…` : first.replace(/[.:;]$/, "");
}

async function measure(
  registry: Registry,
  backend: string,
  method: string,
  shape: ThroughputShape,
  steps: number,
): Promise<ThroughputRow> {
  const row: ThroughputRow = {
    backend,
    method,
    shape: shape.name,
    batchSize: shape.batchSize,
    imagesPerSec: 0,
    msPerStep: 0,
    cpuMsPerStep: 0,
    gflopPerStep: 0,
    gflops: 0,
    peakRssMb: 0,
    peakHeapMb: 0,
    leakedPerStep: 0,
  };
  // A method that refuses this backbone (e.g. masked-image methods on a convnet) is a skip.
  const refused = buildError(registry, method, shape);
  if (refused !== undefined) {
    row.error = `skipped: ${refused}`;
    return row;
  }
  const dataset = await loadSynthetic({
    size: shape.size,
    channels: shape.channels,
    trainSize: shape.batchSize * (steps + 3),
    testSize: 0,
  });
  // wasm aborts for good when its 4 GiB heap runs out: estimate first, skip what will not fit.
  const input = { kind: "image" as const, height: shape.size, width: shape.size, channels: shape.channels };
  let fit: StepMemoryEstimate | undefined;
  try {
    fit = await checkStepFitsBackend({
      build: () => buildMethod(registry, method, shape, 0),
      input,
      batchSize: shape.batchSize,
    });
  } catch (err) {
    if (!(err instanceof MemoryEstimateError)) {
      row.error = `pre-flight failed: ${(err as Error).message.split("\n")[0]}`;
      return row;
    }
    const e = err.estimate;
    row.error = `not run: est. ${(e.bytes / 2 ** 30).toFixed(1)} GiB > ${(e.capacityBytes / 2 ** 30).toFixed(1)} GiB wasm heap; batch ${e.largestFittingBatch} fits`;
    return row;
  }
  const m = buildMethod(registry, method, shape, 0);
  if (fit?.recompute) row.recompute = useActivationRecompute(m) > 0;
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss / 2 ** 20);
    peakHeap = Math.max(peakHeap, heapMb());
  };
  const trainers: Trainer[] = [];
  const trainer = (maxSteps: number, onStep?: () => void) => {
    const t = new Trainer({
      method: m,
      dataset,
      config: {
        epochs: 1,
        maxSteps,
        batchSize: shape.batchSize,
        seed: 0,
        optimizer: { name: "adamw", lr: 1e-3, weightDecay: 1e-4 },
      },
      callbacks: onStep ? [{ onStepEnd: onStep }] : [],
    });
    trainers.push(t);
    return t;
  };
  try {
    // One profiled step (also the warm-up): the FLOP count from the kernels it ran.
    const profile = await tf.profile(async () => {
      await trainer(1).fit();
      return [];
    });
    row.gflopPerStep =
      profile.kernels.reduce((s, k) => s + kernelFlops(k.name, k.inputShapes, k.outputShapes), 0) / 1e9;
    sample();
    // Timed steps: a fresh Trainer (new optimizer slots), so time from the end of its first step.
    const stamps: number[] = [];
    const cpu: number[] = [];
    const tensors: number[] = [];
    const mark = () => {
      stamps.push(performance.now());
      const u = process.cpuUsage();
      cpu.push((u.user + u.system) / 1000);
      tensors.push(tf.memory().numTensors);
      sample();
    };
    await trainer(steps + 1, mark).fit();
    const ms = ((stamps[steps] ?? 0) - (stamps[0] ?? 0)) / steps;
    row.msPerStep = ms;
    row.cpuMsPerStep = ((cpu[steps] ?? 0) - (cpu[0] ?? 0)) / steps;
    row.imagesPerSec = (shape.batchSize * 1000) / ms;
    row.gflops = row.gflopPerStep / (ms / 1000);
    row.leakedPerStep = ((tensors[steps] ?? 0) - (tensors[0] ?? 0)) / steps;
  } catch (err) {
    row.error = shortReason((err as Error).message);
  } finally {
    // The Trainer leaves its optimizer's slots to its owner.
    for (const t of trainers) t.dispose();
    m.dispose();
    sample();
    row.peakRssMb = peakRss;
    row.peakHeapMb = peakHeap;
  }
  return row;
}

export async function benchThroughput(opts: ThroughputOptions): Promise<ThroughputRow[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const steps = opts.steps ?? 2;
  const shapes = opts.shapes ?? THROUGHPUT_SHAPES;
  const methods =
    opts.methods ??
    opts.registry
      .list("method")
      .filter((e) => e.spec.inputs.includes("image"))
      .map((e) => e.spec.name);
  const before = currentBackend()?.backend;
  const beforeTf = tf.getBackend();
  const backends = opts.backends ?? (await presentBackends(log));
  const rows: ThroughputRow[] = [];
  log(
    `  ${steps} timed step(s) per row after 1 profiled warm-up step; identity augmentation; AdamW; ` +
      `wasm-threads = ${WASM_BENCH_THREADS} XNNPACK threads; load average ${os.loadavg()[0]?.toFixed(1)} on ${os.cpus().length} CPUs`,
  );
  log(formatThroughputHeader());
  for (const backend of backends) {
    try {
      await activateBackend(backend);
    } catch (err) {
      log(`${backend.padEnd(14)}not measured: ${(err as Error).message.split("\n")[0]}`);
      continue;
    }
    for (const shape of shapes) {
      for (const method of methods) {
        const row = await measure(opts.registry, backend, method, shape, steps);
        rows.push(row);
        log(formatThroughputRow(row));
      }
    }
  }
  if (backends.includes("wasm-threads")) await activateBackend("wasm");
  // Leave the caller on the backend it had (selfsup's choice, or tfjs' own when set directly).
  if (before) await initBackend(before);
  else if (beforeTf && tf.getBackend() !== beforeTf) await tf.setBackend(beforeTf);
  return rows;
}

export function formatThroughputHeader(): string {
  return (
    "backend".padEnd(14) +
    "shape".padEnd(25) +
    "method".padEnd(14) +
    "img/s".padStart(8) +
    "ms/step".padStart(9) +
    "CPU ms".padStart(8) +
    "GFLOP/step".padStart(11) +
    "GFLOP/s".padStart(9) +
    "RSS MB".padStart(8) +
    "heap MB".padStart(8) +
    "leak/step".padStart(10)
  );
}

export function formatThroughputRow(r: ThroughputRow): string {
  const head = r.backend.padEnd(14) + r.shape.padEnd(25) + r.method.padEnd(14);
  if (r.error !== undefined) {
    return /^(not run|skipped|pre-flight)/.test(r.error)
      ? `${head}  ${r.error}`
      : `${head}  FAILED: ${r.error} (peak RSS ${r.peakRssMb.toFixed(0)} MB)`;
  }
  return (
    head +
    r.imagesPerSec.toFixed(1).padStart(8) +
    r.msPerStep.toFixed(0).padStart(9) +
    r.cpuMsPerStep.toFixed(0).padStart(8) +
    r.gflopPerStep.toFixed(1).padStart(11) +
    r.gflops.toFixed(1).padStart(9) +
    r.peakRssMb.toFixed(0).padStart(8) +
    r.peakHeapMb.toFixed(0).padStart(8) +
    r.leakedPerStep.toFixed(1).padStart(10) +
    (r.recompute ? "  recompute" : "")
  );
}
