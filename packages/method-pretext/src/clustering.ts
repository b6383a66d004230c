/**
 * DeepCluster's clustering step in plain numbers: PCA-whitening, k-means with k-means++ seeding
 * and empty-cluster re-seeding, and normalised mutual information between two assignments. The
 * feature matrix (N x D floats) is the largest thing held: 8,000 digits x 128 features = 4 MB.
 */
import type { Rng } from "@selfsup/core";

/** Eigen-decomposition of a symmetric d x d matrix (row-major) by cyclic Jacobi rotations. */
export function symmetricEigen(a: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += (m[p * d + q] as number) ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = m[p * d + q] as number;
        if (Math.abs(apq) < 1e-300) continue;
        const app = m[p * d + p] as number;
        const aqq = m[q * d + q] as number;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const mkp = m[k * d + p] as number;
          const mkq = m[k * d + q] as number;
          m[k * d + p] = c * mkp - s * mkq;
          m[k * d + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < d; k++) {
          const mpk = m[p * d + k] as number;
          const mqk = m[q * d + k] as number;
          m[p * d + k] = c * mpk - s * mqk;
          m[q * d + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p] as number;
          const vkq = v[k * d + q] as number;
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = m[i * d + i] as number;
  return { values, vectors: v };
}

export interface Whitening {
  /** Feature mean [D]. */
  mean: Float32Array;
  /** [D, outDim] row-major: x_white = (x - mean) · projection. */
  projection: Float32Array;
  outDim: number;
}

/**
 * PCA-whitening of N x D features: the top `outDim` principal directions, each scaled by
 * 1/sqrt(eigenvalue + eps·largest eigenvalue), so whitened features have identity covariance.
 */
export function pcaWhitening(x: Float32Array, n: number, d: number, outDim: number, eps = 1e-4): Whitening {
  const k = Math.min(outDim, d);
  const mean = new Float32Array(d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (x[i * d + j] as number) / n;
  const cov = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = (x[i * d + j] as number) - (mean[j] as number);
    for (let p = 0; p < d; p++) {
      const rp = row[p] as number;
      if (rp === 0) continue;
      for (let q = p; q < d; q++) cov[p * d + q] = (cov[p * d + q] as number) + rp * (row[q] as number);
    }
  }
  for (let p = 0; p < d; p++)
    for (let q = p; q < d; q++) {
      const c = (cov[p * d + q] as number) / Math.max(n - 1, 1);
      cov[p * d + q] = c;
      cov[q * d + p] = c;
    }
  const { values, vectors } = symmetricEigen(cov, d);
  const order = Array.from(values.keys()).sort((a, b) => (values[b] as number) - (values[a] as number));
  const top = Math.max(values[order[0] as number] as number, 1e-12);
  const projection = new Float32Array(d * k);
  for (let c = 0; c < k; c++) {
    const e = order[c] as number;
    const scale = 1 / Math.sqrt(Math.max(values[e] as number, 0) + eps * top);
    for (let j = 0; j < d; j++) projection[j * k + c] = (vectors[j * d + e] as number) * scale;
  }
  return { mean, projection, outDim: k };
}

/** Applies a whitening to N x D features and L2-normalises each row (as DeepCluster does): N x outDim. */
export function whiten(x: Float32Array, n: number, d: number, w: Whitening): Float32Array {
  const k = w.outDim;
  const out = new Float32Array(n * k);
  const row = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) row[j] = (x[i * d + j] as number) - (w.mean[j] as number);
    let norm = 0;
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (row[j] as number) * (w.projection[j * k + c] as number);
      out[i * k + c] = s;
      norm += s * s;
    }
    const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
    for (let c = 0; c < k; c++) out[i * k + c] = (out[i * k + c] as number) * inv;
  }
  return out;
}

function sqDist(x: Float32Array, i: number, c: Float32Array, j: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) {
    const v = (x[i * d + t] as number) - (c[j * d + t] as number);
    s += v * v;
  }
  return s;
}

export interface KMeansOptions {
  k: number;
  /** Lloyd iterations after seeding (default 20; stops early once no assignment changes). */
  iterations?: number;
  /** Start from these centroids (k x d) instead of k-means++ seeding (tests). */
  init?: Float32Array;
}

export interface KMeansResult {
  /** k x d. */
  centroids: Float32Array;
  /** Cluster of every point: the nearest final centroid. */
  assignment: Int32Array;
  /** Points per cluster. */
  sizes: Int32Array;
  /** How many times an empty cluster was re-seeded. */
  reseeded: number;
}

/**
 * k-means on N x d points: k-means++ seeding (Arthur & Vassilvitskii 2007), Lloyd iterations, and
 * DeepCluster's empty-cluster rule: an empty cluster takes a copy of a non-empty cluster's centroid
 * (chosen with probability proportional to its size), both nudged apart by a small perturbation,
 * and the big cluster's points split between them at the next assignment.
 */
export function kmeans(x: Float32Array, n: number, d: number, rng: Rng, opts: KMeansOptions): KMeansResult {
  const { k } = opts;
  if (!(k >= 1 && k <= n)) throw new Error(`kmeans: k must be in [1, ${n}] (the number of points), got ${k}`);
  const centroids = opts.init ? Float32Array.from(opts.init) : new Float32Array(k * d);
  if (!opts.init) {
    const first = rng.int(n);
    centroids.set(x.subarray(first * d, first * d + d), 0);
    const nearest = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    for (let c = 1; c < k; c++) {
      let total = 0;
      for (let i = 0; i < n; i++) {
        nearest[i] = Math.min(nearest[i] as number, sqDist(x, i, centroids, c - 1, d));
        total += nearest[i] as number;
      }
      let r = rng.next() * total;
      let pick = n - 1;
      for (let i = 0; i < n; i++) {
        r -= nearest[i] as number;
        if (r <= 0) {
          pick = i;
          break;
        }
      }
      centroids.set(x.subarray(pick * d, pick * d + d), c * d);
    }
  }
  const assignment = new Int32Array(n).fill(-1);
  const sizes = new Int32Array(k);
  let reseeded = 0;
  const assign = (): number => {
    let changed = 0;
    sizes.fill(0);
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Number.POSITIVE_INFINITY;
      for (let c = 0; c < k; c++) {
        const dist = sqDist(x, i, centroids, c, d);
        if (dist < bestD) {
          bestD = dist;
          best = c;
        }
      }
      if (assignment[i] !== best) changed++;
      assignment[i] = best;
      sizes[best] = (sizes[best] as number) + 1;
    }
    return changed;
  };
  const iterations = opts.iterations ?? 20;
  assign();
  for (let it = 0; it < iterations; it++) {
    let reseededNow = 0;
    const sums = new Float64Array(k * d);
    for (let i = 0; i < n; i++) {
      const c = assignment[i] as number;
      for (let t = 0; t < d; t++) sums[c * d + t] = (sums[c * d + t] as number) + (x[i * d + t] as number);
    }
    for (let c = 0; c < k; c++) {
      const size = sizes[c] as number;
      if (size > 0) for (let t = 0; t < d; t++) centroids[c * d + t] = (sums[c * d + t] as number) / size;
    }
    for (let c = 0; c < k; c++) {
      if ((sizes[c] as number) > 0) continue;
      // re-seed from a non-empty cluster picked with probability proportional to its size
      let r = rng.int(n);
      let big = 0;
      while (r >= (sizes[big] as number)) {
        r -= sizes[big] as number;
        big++;
      }
      for (let t = 0; t < d; t++) {
        const v = centroids[big * d + t] as number;
        const e = 1e-4 * (rng.next() - 0.5);
        centroids[c * d + t] = v * (1 + e) + e;
        centroids[big * d + t] = v * (1 - e) - e;
      }
      sizes[c] = Math.floor((sizes[big] as number) / 2);
      sizes[big] = (sizes[big] as number) - (sizes[c] as number);
      reseededNow++;
    }
    reseeded += reseededNow;
    if (assign() === 0 && reseededNow === 0) break;
  }
  return { centroids, assignment, sizes, reseeded };
}

/**
 * Normalised mutual information of two labelings, NMI = I(A;B) / sqrt(H(A) H(B)) (1: the same
 * partition up to renaming; near 0: independent). DeepCluster reports it between successive
 * epochs' assignments to show the clustering stabilising.
 */
export function nmi(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (n !== b.length) throw new Error(`nmi: labelings of ${a.length} and ${b.length} points`);
  if (n === 0) return 0;
  const joint = new Map<string, number>();
  const ca = new Map<number, number>();
  const cb = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    joint.set(`${x},${y}`, (joint.get(`${x},${y}`) ?? 0) + 1);
    ca.set(x, (ca.get(x) ?? 0) + 1);
    cb.set(y, (cb.get(y) ?? 0) + 1);
  }
  const h = (m: Map<number, number>) => [...m.values()].reduce((s, c) => s - (c / n) * Math.log(c / n), 0);
  let mi = 0;
  for (const [key, c] of joint) {
    const [x, y] = key.split(",").map(Number) as [number, number];
    mi += (c / n) * Math.log((c * n) / ((ca.get(x) as number) * (cb.get(y) as number)));
  }
  const ha = h(ca);
  const hb = h(cb);
  if (ha === 0 || hb === 0) return ha === hb ? 1 : 0;
  return mi / Math.sqrt(ha * hb);
}
