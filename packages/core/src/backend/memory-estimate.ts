/**
 * Pre-flight memory check for backends with a hard heap limit (wasm: a 32-bit address space, at
 * most 4 GiB, and exhausting it aborts the wasm module mid-run with "memory access out of bounds"
 * or `Aborted()`, after which nothing on that backend works).
 *
 * The estimate is measured, not modelled: a throwaway instance of the same method (built by the
 * caller's factory, so the run's own weights, optimizer and random streams are untouched) trains
 * one step at small probe batch sizes under `tf.profile`, whose `peakBytes` is the most tensor
 * memory the engine held. Once activations dominate, peak memory is affine in the batch size
 * (activations and their gradients scale with it, weights and optimizer slots do not), so two
 * probes in that regime (doubled from 2 and 4 until the peak grows like the batch) give the
 * per-sample slope and the fixed part, extrapolated to the run's batch size. A factor of 1.15 covers what the engine
 * does not count (kernel scratch, heap fragmentation): measured on ResNet-18 SimCLR at batch 8 on
 * wasm, the wasm heap grew to 1.11x the engine's peak.
 *
 * Activation recomputation (../nn/recompute.ts): when a plain step would not fit and the method
 * has modules whose `recompute` mode is "auto" (ResNet-18), the check probes again with
 * recomputation on; if that fits, the estimate says `recompute: true` and the caller turns it on in
 * the run's method (`useActivationRecompute`). The error then names the batch that fits with it.
 */

import { ArraySplit, sampleLength } from "../data/split.js";
import { recomputableModules, setAutoRecompute } from "../nn/recompute.js";
import type { Dataset, InputSpec, Method } from "../plugin/types.js";
import { tf } from "../tf.js";
import { Trainer } from "../train/trainer.js";

/** The wasm heap's hard limit (tfjs-backend-wasm 4.22: emscripten's getHeapMax, 4 GiB - 64 KiB). */
export const WASM_HEAP_MAX_BYTES = 4294901760;
const OVERHEAD = 1.15;

export interface StepMemoryEstimate {
  batchSize: number;
  /** Estimated peak tensor memory of one training step at batchSize, overhead included. */
  bytes: number;
  /** Memory per sample (all its views, forward and backward). */
  perSampleBytes: number;
  /** What does not scale with the batch (weights, optimizer slots, everything already held). */
  fixedBytes: number;
  capacityBytes: number;
  fits: boolean;
  /** The largest batch size estimated to fit (a multiple of 8 when >= 8), 0 if none. */
  largestFittingBatch: number;
  /**
   * The probes ran with activation recomputation turned on in the method's "auto" modules: the
   * run must turn it on too (`useActivationRecompute(method)`) for the estimate to hold.
   */
  recompute: boolean;
  /** The method has modules whose recomputation is "auto" (the check may turn it on). */
  canRecompute: boolean;
}

/**
 * Turns activation recomputation on (or off) in every module of `method` whose `recompute` option
 * is "auto"; returns how many it switched. Modules with "always" / "never" keep their mode.
 */
export function useActivationRecompute(method: Pick<Method, "modules">, on = true): number {
  return setAutoRecompute(Object.values(method.modules()), on);
}

export class MemoryEstimateError extends Error {
  override name = "MemoryEstimateError";
  constructor(
    message: string,
    readonly estimate: StepMemoryEstimate,
  ) {
    super(message);
  }
}

const MB = 2 ** 20;
const fmt = (bytes: number) =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / MB).toFixed(0)} MiB`;

interface Probe {
  peak: number;
  /** Modules of the method whose recomputation is "auto". */
  autoRecompute: number;
}

/**
 * `n` images of exactly the run's input (height, width, channels: any size, square or not), with
 * fixed pseudo-random values. The probe used to borrow the synthetic shapes dataset, which is
 * square and at least 8 px, so every wasm run on smaller or non-square images died at step 0.
 */
export function probeDataset(input: InputSpec, n: number): Dataset {
  const len = sampleLength(input);
  const values = new Float32Array(n * len);
  for (let i = 0; i < values.length; i++) values[i] = (Math.imul(i, 0x9e3779b1) >>> 0) / 2 ** 32;
  const order = Array.from({ length: n }, (_, i) => i);
  const labels = order.map((i) => i % 2);
  return { name: "memory-probe", input, train: new ArraySplit("memory probe", input, values, labels, order) };
}

async function probePeak(
  build: () => Method,
  input: InputSpec,
  batchSize: number,
  recompute: boolean,
): Promise<Probe> {
  if (input.kind !== "image") throw new Error("probe needs an image input");
  const dataset = probeDataset(input, batchSize);
  const before = tf.memory().numBytes;
  const method = build();
  try {
    const autoRecompute = recomputableModules(Object.values(method.modules())).filter(
      (m) => m.recomputeMode === "auto",
    ).length;
    useActivationRecompute(method, recompute);
    const trainer = new Trainer({
      method,
      dataset,
      config: { epochs: 1, maxSteps: 1, batchSize, seed: 0, optimizer: { name: "adamw", lr: 1e-3 } },
    });
    try {
      const profile = await tf.profile(async () => {
        await trainer.fit();
        return [];
      });
      return { peak: profile.peakBytes - before, autoRecompute };
    } finally {
      // The Trainer leaves its optimizer's slots to its owner (fit may be called again).
      trainer.dispose();
    }
  } finally {
    method.dispose();
  }
}

/**
 * Estimates a training step's peak memory at `batchSize` (see the module comment). Returns
 * undefined where it cannot probe (non-image inputs; non-square images).
 */
export async function estimateStepMemory(opts: {
  build: () => Method;
  input: InputSpec;
  batchSize: number;
  capacityBytes?: number;
  /** Probe with activation recomputation on in the method's "auto" modules (default false). */
  recompute?: boolean;
}): Promise<StepMemoryEstimate | undefined> {
  const { input, batchSize } = opts;
  const recompute = opts.recompute ?? false;
  if (input.kind !== "image" || input.height !== input.width) return undefined;
  const probe = (b: number) => probePeak(opts.build, input, b, recompute);
  // Small batches peak elsewhere (the optimizer update: weights, gradients, slots), not in the
  // activations, so double the probes until the peak grows like the batch (+60% for 2x). With
  // recomputation the activations per sample are small next to the weights: ResNet-18 SimCLR's
  // peak is flat up to batch 8 and needs probes up to 64 (about one batch-128 step of work).
  const cap = Math.max(4, Math.min(64, Math.floor(batchSize / 2)));
  let b1 = 2;
  const first = await probe(b1);
  let peak1 = first.peak;
  let b2 = 4;
  let peak2 = (await probe(b2)).peak;
  let previousGrowth: number | undefined;
  while (peak2 - peak1 < 0.6 * peak1 && b2 * 2 <= cap) {
    previousGrowth = peak2 - peak1;
    [b1, peak1] = [b2, peak2];
    b2 *= 2;
    peak2 = (await probe(b2)).peak;
  }
  let perSample = Math.max(0, (peak2 - peak1) / (b2 - b1));
  let fixedPart = Math.max(0, peak2 - perSample * b2);
  // Where the peak is affine the last growth is twice the one before (the batch step doubled).
  // Much more means the previous probe was still at the optimizer's peak: the switch from that
  // peak to the activations' lies inside the last pair, whose slope understates the activations'.
  // Their line passes through (b2, peak2) with a non-negative intercept: take the steepest such
  // line (slope peak2/b2, no fixed part), which over-estimates rather than under-estimates.
  if (previousGrowth !== undefined && peak2 - peak1 > 2.5 * Math.max(0, previousGrowth)) {
    perSample = peak2 / b2;
    fixedPart = 0;
  }
  const held = tf.memory().numBytes;
  const fixed = held + fixedPart;
  const capacity = opts.capacityBytes ?? WASM_HEAP_MAX_BYTES;
  const bytes = (fixed + perSample * batchSize) * OVERHEAD;
  let largest = perSample > 0 ? Math.floor((capacity / OVERHEAD - fixed) / perSample) : batchSize;
  if (largest >= 8) largest -= largest % 8;
  largest = Math.max(0, largest);
  return {
    batchSize,
    bytes,
    perSampleBytes: perSample * OVERHEAD,
    fixedBytes: fixed * OVERHEAD,
    capacityBytes: capacity,
    fits: bytes <= capacity,
    largestFittingBatch: largest,
    recompute: recompute && first.autoRecompute > 0,
    canRecompute: first.autoRecompute > 0,
  };
}

/**
 * On the wasm backend, throws a MemoryEstimateError naming the batch size that fits when a step at
 * `batchSize` is estimated to exceed the wasm heap even with activation recomputation (where the
 * method can recompute); returns the estimate otherwise (undefined on other backends, which use
 * the machine's memory, and where no estimate can be made). When the returned estimate says
 * `recompute: true`, call `useActivationRecompute(method)` on the run's method before training.
 */
export async function checkStepFitsBackend(opts: {
  build: () => Method;
  input: InputSpec;
  batchSize: number;
  /** Names the run for the message, e.g. "simclr with resnet18". */
  what?: string;
  /** The heap to fit in (default WASM_HEAP_MAX_BYTES). */
  capacityBytes?: number;
}): Promise<StepMemoryEstimate | undefined> {
  if (tf.getBackend() !== "wasm") return undefined;
  // Probing costs two small steps; a run no bigger than the probes needs no estimate.
  if (opts.batchSize <= 4) return undefined;
  const plain = await estimateStepMemory(opts);
  if (plain === undefined || plain.fits) return plain;
  // Too big as it is: with activation recomputation, where the method's modules allow it.
  const est = plain.canRecompute ? await estimateStepMemory({ ...opts, recompute: true }) : plain;
  if (est === undefined || est.fits) return est;
  const recomputeNote = est.recompute ? ` (with activation recomputation; ${fmt(plain.bytes)} without)` : "";
  const fitsHint =
    est.largestFittingBatch > 0
      ? `batch size ${est.largestFittingBatch} fits (est. ${fmt(est.fixedBytes + est.perSampleBytes * est.largestFittingBatch)}): use --batch-size ${est.largestFittingBatch}`
      : "no batch size fits: the model alone exceeds the heap";
  throw new MemoryEstimateError(
    `${opts.what ?? "this run"}: one training step at batch size ${est.batchSize} needs an estimated ` +
      `${fmt(est.bytes)}${recomputeNote} (${fmt(est.perSampleBytes)} per sample), more than the wasm backend's ` +
      `${fmt(est.capacityBytes)} heap; ${fitsHint}, or train on the native backend (--backend tensorflow, see ` +
      "`selfsup backend build-native`)",
    est,
  );
}
