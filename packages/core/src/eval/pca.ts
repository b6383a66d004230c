/**
 * A 2-D PCA projection of embeddings for the dashboard's scatter plot: the data is centred, the
 * covariance C = X^T X / (n - 1) is formed in float64, and its two leading eigenvectors are found
 * by power iteration with deflation (C2 = C - l1 v1 v1^T). Each component's sign is fixed so that
 * its largest-magnitude coordinate is positive, so the same data always gives the same picture.
 */
import type { FeatureModule } from "../nn/module.js";
import type { DatasetSplit, InputSpec } from "../plugin/types.js";
import { Rng } from "../rng.js";
import type { tf } from "../tf.js";
import { extractFeatures, limitIndices, subsetSplit } from "./features.js";

export interface Projection2D {
  /** One [x, y] per sample. */
  points: Array<[number, number]>;
  /** Label per point (-1 where unknown). */
  labels: number[];
  /** The two principal directions, unit length. */
  components: [number[], number[]];
  /** Fraction of the total variance along each component. */
  explainedVariance: [number, number];
}

function powerIteration(
  c: Float64Array,
  d: number,
  iterations: number,
): { vector: Float64Array; value: number } {
  let v = new Float64Array(d);
  for (let i = 0; i < d; i++) v[i] = 1 / Math.sqrt(d) + (i % 2 === 0 ? 1e-3 : -1e-3); // deterministic start, not orthogonal to typical leading vectors
  let value = 0;
  for (let it = 0; it < iterations; it++) {
    const next = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (c[i * d + j] as number) * (v[j] as number);
      next[i] = s;
    }
    let norm = 0;
    for (let i = 0; i < d; i++) norm += (next[i] as number) ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) break;
    for (let i = 0; i < d; i++) next[i] = (next[i] as number) / norm;
    const delta = next.reduce((m, x, i) => Math.max(m, Math.abs(x - (v[i] as number))), 0);
    v = next;
    value = norm;
    if (delta < 1e-12) break;
  }
  // fix the sign: the largest-magnitude coordinate is positive
  let arg = 0;
  for (let i = 1; i < d; i++) if (Math.abs(v[i] as number) > Math.abs(v[arg] as number)) arg = i;
  if ((v[arg] as number) < 0) for (let i = 0; i < d; i++) v[i] = -(v[i] as number);
  return { vector: v, value };
}

/** PCA to two dimensions of row vectors (`number[][]`, or a [N, D] tensor read once). */
export function pca2d(
  data: number[][] | tf.Tensor2D,
  labels?: ArrayLike<number>,
  opts: { iterations?: number } = {},
): Projection2D {
  const rows: ArrayLike<number>[] = Array.isArray(data) ? data : tensorRows(data);
  const n = rows.length;
  const d = n > 0 ? (rows[0] as ArrayLike<number>).length : 0;
  if (n < 2 || d < 2) throw new Error(`pca2d needs at least 2 points of dimension >= 2 (got ${n} x ${d})`);
  const mean = new Float64Array(d);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (r[j] as number) / n;
  const c = new Float64Array(d * d);
  const centred = rows.map((r) =>
    Float64Array.from({ length: d }, (_, j) => (r[j] as number) - (mean[j] as number)),
  );
  for (const x of centred) {
    for (let i = 0; i < d; i++) {
      const xi = x[i] as number;
      if (xi === 0) continue;
      for (let j = 0; j < d; j++) c[i * d + j] = (c[i * d + j] as number) + xi * (x[j] as number);
    }
  }
  for (let i = 0; i < d * d; i++) c[i] = (c[i] as number) / (n - 1);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += c[i * d + i] as number;
  const iterations = opts.iterations ?? 500;
  const first = powerIteration(c, d, iterations);
  const deflated = Float64Array.from(c);
  for (let i = 0; i < d; i++)
    for (let j = 0; j < d; j++)
      deflated[i * d + j] =
        (deflated[i * d + j] as number) -
        first.value * (first.vector[i] as number) * (first.vector[j] as number);
  const second = powerIteration(deflated, d, iterations);
  const dot = (x: Float64Array, v: Float64Array) => x.reduce((s, xi, i) => s + xi * (v[i] as number), 0);
  return {
    points: centred.map((x) => [dot(x, first.vector), dot(x, second.vector)]),
    labels: Array.from({ length: n }, (_, i) => (labels ? (labels[i] as number) : -1)),
    components: [Array.from(first.vector), Array.from(second.vector)],
    explainedVariance: [trace > 0 ? first.value / trace : 0, trace > 0 ? second.value / trace : 0],
  };
}

function tensorRows(t: tf.Tensor2D): Float32Array[] {
  const [n, d] = t.shape;
  const flat = t.dataSync() as Float32Array;
  return Array.from({ length: n }, (_, i) => flat.subarray(i * d, (i + 1) * d));
}

/** Encodes up to `limit` samples (a seeded subset; default 2,000) and projects them to 2-D. */
export async function embeddingProjection(
  encoder: FeatureModule,
  split: DatasetSplit,
  opts: { input: InputSpec; batchSize?: number; limit?: number; seed?: number },
): Promise<Projection2D> {
  const indices = limitIndices(split.size, opts.limit ?? 2000, new Rng(opts.seed ?? 0));
  const { features, labels } = await extractFeatures(encoder, subsetSplit(split, indices), {
    input: opts.input,
    batchSize: opts.batchSize,
  });
  try {
    return pca2d(features, labels);
  } finally {
    features.dispose();
  }
}
