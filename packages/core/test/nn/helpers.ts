import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { expect } from "vitest";
import type { Module } from "../../src/nn/module.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";

/**
 * Selects a backend and makes sure tfjs-core's gradients are registered: tfjs-core alone registers
 * none (they come with `@tensorflow/tfjs`, or with core's own src/backend/gradients).
 */
export async function useBackend(name: "cpu" | "wasm"): Promise<void> {
  await tf.setBackend(name);
  await tf.ready();
  if (tf.getGradient("Sum") == null) {
    // Imported by a computed path so that this file type-checks before that module lands.
    const path = "../../src/backend/gradients/index.js";
    let mod: { registerCoreGradients(): string[] };
    try {
      mod = (await import(/* @vite-ignore */ path)) as typeof mod;
    } catch (err) {
      throw new Error(
        `tfjs-core has no gradients registered and core's src/backend/gradients could not be loaded: ${(err as Error).message}`,
      );
    }
    mod.registerCoreGradients();
  }
}

/** Deterministic pseudo-random values in [lo, hi) from a seed. */
export function randomTensor(shape: number[], seed: number, lo = -1, hi = 1): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = rng.uniform(lo, hi);
  return tf.tensor(values, shape);
}

/** Deterministic token ids in [0, vocab). */
export function randomIds(shape: [number, number], vocab: number, seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  const values = new Int32Array(shape[0] * shape[1]);
  for (let i = 0; i < values.length; i++) values[i] = rng.int(vocab);
  return tf.tensor2d(values, shape, "int32");
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number);
}

/** Runs `fn` under tf.tidy, reads its result to the host and disposes it. */
export function run(fn: () => tf.Tensor): { shape: number[]; values: Float32Array } {
  const y = tf.tidy(fn);
  const out = { shape: y.shape, values: y.dataSync() as Float32Array };
  y.dispose();
  return out;
}

/**
 * Asserts that every trainable parameter of `module` gets a finite gradient that is not zero
 * everywhere, for the loss sum(f() · r) with a fixed random r, and that nothing leaks.
 */
export function expectGradientsEverywhere(module: Module, f: () => tf.Tensor): void {
  const before = tf.memory().numTensors;
  const params = module.namedParameters().filter((p) => p.variable.trainable);
  const { value, grads } = tf.variableGrads(
    () => {
      const y = f();
      const r = randomTensor(y.shape, 99);
      return tf.sum(tf.mul(y, r)) as tf.Scalar;
    },
    params.map((p) => p.variable),
  );
  const problems: string[] = [];
  for (const p of params) {
    const g = grads[p.variable.name];
    if (!g) {
      problems.push(`${p.name}: no gradient`);
      continue;
    }
    const [finite, maxAbs] = tf.tidy(() => [
      tf.all(tf.isFinite(g)).dataSync()[0] as number,
      tf.max(tf.abs(g)).dataSync()[0] as number,
    ]);
    if (!finite) problems.push(`${p.name}: non-finite gradient`);
    else if (maxAbs === 0) problems.push(`${p.name}: zero gradient`);
  }
  value.dispose();
  tf.dispose(grads);
  expect(problems).toEqual([]);
  expect(tf.memory().numTensors).toBe(before);
}
