/**
 * Conformance checks for losses and augmentations, the other contributions a plugin writes by
 * hand (methods have conformance.ts). Plain functions that throw `ConformanceError`; the vitest
 * wrappers `describeLossConformance` / `describeAugmentationConformance` live in index.ts.
 *
 *   loss:          options accept {}; a finite scalar on random inputs; the same value twice;
 *                  gradients w.r.t. every input against central finite differences
 *   augmentation:  options accept {}; output shape (the input's unless told) and finite values;
 *                  the same output from the same rng seed; input left intact; no tensor leaked
 */
import type { AugmentationSpec, LossSpec } from "../plugin/types.js";
import { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { ConformanceError } from "./conformance.js";

export interface LossConformanceOptions {
  /** Shapes of the loss's input tensors, e.g. [[8, 4], [8, 4]] for two embedding batches. */
  inputShapes: number[][];
  /** Raw options (default {}). */
  options?: Record<string, unknown>;
  /** Seed of the random inputs (default 0). */
  seed?: number;
  /** Finite-difference step (default 1e-2, in float32). */
  epsilon?: number;
  /** Allowed |analytic - numeric| / max(1, |numeric|) (default 2e-2). */
  tolerance?: number;
  /** Coordinates probed per input (default 6). */
  probes?: number;
}

function parseOrThrow(
  spec: {
    name: string;
    options: { safeParse(v: unknown): { success: boolean; data?: unknown; error?: unknown } };
  },
  raw: unknown,
  kind: string,
): unknown {
  const r = spec.options.safeParse(raw ?? {});
  if (!r.success) {
    throw new ConformanceError(
      `${kind} "${spec.name}": its options schema rejects ${JSON.stringify(raw ?? {})}: ${String(r.error)}`,
    );
  }
  return r.data;
}

function randomInputs(shapes: number[][], seed: number): tf.Tensor[] {
  const rng = new Rng(seed);
  return shapes.map((shape) => tf.randomNormal(shape, 0, 1, "float32", rng.seed()));
}

/** Runs every loss check; throws on the first failure. */
export function checkLossConformance(spec: LossSpec, opts: LossConformanceOptions): void {
  const fn = spec.create(parseOrThrow(spec, opts.options, "loss") as never);
  const inputs = randomInputs(opts.inputShapes, opts.seed ?? 0);
  try {
    const value = tf.tidy(() => fn(...inputs));
    const v = value.dataSync()[0] as number;
    if (value.rank !== 0)
      throw new ConformanceError(`loss "${spec.name}" returned rank ${value.rank}, not a scalar`);
    value.dispose();
    if (!Number.isFinite(v)) throw new ConformanceError(`loss "${spec.name}" is ${v} on random inputs`);
    const again = tf.tidy(() => fn(...inputs).dataSync()[0] as number);
    if (again !== v)
      throw new ConformanceError(`loss "${spec.name}" gave ${v} then ${again} on the same inputs`);

    const eps = opts.epsilon ?? 1e-2;
    const tol = opts.tolerance ?? 2e-2;
    const grads = tf.grads((...xs: tf.Tensor[]) => fn(...xs))(inputs);
    try {
      const rng = new Rng((opts.seed ?? 0) + 1);
      inputs.forEach((x, i) => {
        const g = grads[i]?.dataSync() as Float32Array;
        const base = x.dataSync().slice() as Float32Array;
        for (let p = 0; p < (opts.probes ?? 6); p++) {
          const k = Math.floor(rng.next() * base.length);
          const at = (delta: number) =>
            tf.tidy(() => {
              const moved = base.slice();
              moved[k] = (moved[k] as number) + delta;
              const xs = inputs.map((y, j) => (j === i ? tf.tensor(moved, x.shape) : y));
              return fn(...xs).dataSync()[0] as number;
            });
          const numeric = (at(eps) - at(-eps)) / (2 * eps);
          const analytic = g[k] as number;
          if (!(Math.abs(analytic - numeric) / Math.max(1, Math.abs(numeric)) <= tol)) {
            throw new ConformanceError(
              `loss "${spec.name}": d loss / d input${i}[${k}] is ${analytic} but finite differences give ${numeric}`,
            );
          }
        }
      });
    } finally {
      tf.dispose(grads);
    }
  } finally {
    tf.dispose(inputs);
  }
}

export interface AugmentationConformanceOptions {
  /** Input batch shape, [B, H, W, C] (default [4, 16, 16, 3]). */
  inputShape?: number[];
  /** Raw options (default {}). */
  options?: Record<string, unknown>;
  /** Expected output shape (default: the input's). */
  outputShape?: number[];
  seed?: number;
}

/** Runs every augmentation check; throws on the first failure. */
export function checkAugmentationConformance(
  spec: AugmentationSpec,
  opts: AugmentationConformanceOptions = {},
): void {
  const aug = spec.create(parseOrThrow(spec, opts.options, "augmentation") as never);
  const shape = opts.inputShape ?? [4, 16, 16, 3];
  const seed = opts.seed ?? 0;
  const x = tf.randomUniform(shape, 0, 1, "float32", seed);
  const before = x.dataSync().slice();
  try {
    const apply = () => {
      const y = aug.apply(x, new Rng(seed));
      const out = { shape: y.shape, values: y.dataSync().slice() };
      if (y !== x) y.dispose();
      return out;
    };
    apply(); // warm-up (kernels may cache)
    const count = tf.memory().numTensors;
    const a = apply();
    if (tf.memory().numTensors !== count) {
      throw new ConformanceError(
        `augmentation "${spec.name}" leaked ${tf.memory().numTensors - count} tensor(s) per call`,
      );
    }
    const want = opts.outputShape ?? shape;
    if (a.shape.join() !== want.join()) {
      throw new ConformanceError(
        `augmentation "${spec.name}" returned shape [${a.shape}], expected [${want}]`,
      );
    }
    const bad = a.values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw new ConformanceError(`augmentation "${spec.name}" output[${bad}] is ${a.values[bad]}`);
    const b = apply();
    if (b.values.some((v, i) => v !== a.values[i])) {
      throw new ConformanceError(`augmentation "${spec.name}" gave different outputs for the same rng seed`);
    }
    const after = x.dataSync();
    if (after.some((v, i) => v !== before[i])) {
      throw new ConformanceError(`augmentation "${spec.name}" modified its input tensor`);
    }
  } finally {
    x.dispose();
  }
}
