/**
 * Hand-written Float64 references for the losses: plain loops over number[][], written from the
 * papers' formulas independently of the tfjs implementations, used as ground truth in the tests.
 */
export type Mat = number[][];

export function randn(rows: number, cols: number, seed: number, scale = 1): Mat {
  // mulberry32 + Box-Muller: deterministic and independent of the code under test
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: rows }, () =>
    Array.from(
      { length: cols },
      () => scale * Math.sqrt(-2 * Math.log(Math.max(uniform(), 1e-12))) * Math.cos(2 * Math.PI * uniform()),
    ),
  );
}

const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * (b[i] as number), 0);
const normalizeRow = (a: number[]) => {
  const n = Math.sqrt(dot(a, a));
  return a.map((v) => v / n);
};
const logSumExp = (xs: number[]) => {
  const m = Math.max(...xs);
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
};

export function ntXentRef(z1: Mat, z2: Mat, t: number): number {
  const u = [...z1, ...z2].map(normalizeRow);
  const n2 = u.length;
  let total = 0;
  for (let i = 0; i < n2; i++) {
    const logits: number[] = [];
    for (let j = 0; j < n2; j++) if (j !== i) logits.push(dot(u[i]!, u[j]!) / t);
    const pos = dot(u[i]!, u[(i + n2 / 2) % n2]!) / t;
    total += logSumExp(logits) - pos;
  }
  return total / n2;
}

export function infoNCERef(q: Mat, k: Mat, queue: Mat | null, t: number): number {
  const qn = q.map(normalizeRow);
  const kn = k.map(normalizeRow);
  let total = 0;
  for (let i = 0; i < qn.length; i++) {
    if (queue) {
      const pos = dot(qn[i]!, kn[i]!) / t;
      const logits = [pos, ...queue.map((row) => dot(qn[i]!, normalizeRow(row)) / t)];
      total += logSumExp(logits) - pos;
    } else {
      const logits = kn.map((row) => dot(qn[i]!, row) / t);
      total += logSumExp(logits) - logits[i]!;
    }
  }
  return total / qn.length;
}

export function negCosRef(p: Mat, z: Mat): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += dot(normalizeRow(p[i]!), normalizeRow(z[i]!));
  return -total / p.length;
}

function columnStats(z: Mat, unbiased: boolean): { mean: number[]; variance: number[] } {
  const n = z.length;
  const d = z[0]!.length;
  const mean = Array.from({ length: d }, (_, j) => z.reduce((s, row) => s + row[j]!, 0) / n);
  const variance = Array.from(
    { length: d },
    (_, j) => z.reduce((s, row) => s + (row[j]! - mean[j]!) ** 2, 0) / (unbiased ? n - 1 : n),
  );
  return { mean, variance };
}

export function barlowRef(z1: Mat, z2: Mat, lambda: number, eps = 1e-5): number {
  const n = z1.length;
  const d = z1[0]!.length;
  const std = (z: Mat) => {
    const { mean, variance } = columnStats(z, false);
    return z.map((row) => row.map((v, j) => (v - mean[j]!) / Math.sqrt(variance[j]! + eps)));
  };
  const a = std(z1);
  const b = std(z2);
  let loss = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let c = 0;
      for (let r = 0; r < n; r++) c += a[r]![i]! * b[r]![j]!;
      c /= n;
      loss += i === j ? (1 - c) ** 2 : lambda * c * c;
    }
  }
  return loss;
}

export function vicregRef(z1: Mat, z2: Mat, w = { inv: 25, var: 25, cov: 1 }, gamma = 1, eps = 1e-4) {
  const n = z1.length;
  const d = z1[0]!.length;
  let mse = 0;
  for (let r = 0; r < n; r++) for (let j = 0; j < d; j++) mse += (z1[r]![j]! - z2[r]![j]!) ** 2;
  const invariance = mse / (n * d);
  const terms = (z: Mat) => {
    const { mean, variance } = columnStats(z, true);
    const v = variance.reduce((s, x) => s + Math.max(0, gamma - Math.sqrt(x + eps)), 0) / d;
    let c = 0;
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        if (i === j) continue;
        let cov = 0;
        for (let r = 0; r < n; r++) cov += (z[r]![i]! - mean[i]!) * (z[r]![j]! - mean[j]!);
        c += (cov / (n - 1)) ** 2;
      }
    }
    return { v, c: c / d };
  };
  const a = terms(z1);
  const b = terms(z2);
  const variance = (a.v + b.v) / 2;
  const covariance = a.c + b.c;
  return {
    invariance,
    variance,
    covariance,
    loss: w.inv * invariance + w.var * variance + w.cov * covariance,
  };
}

/** Central finite differences of a Float64 function of one matrix argument. */
export function numericGrad(f: (m: Mat) => number, m: Mat, h = 1e-5): Mat {
  return m.map((row, i) =>
    row.map((_, j) => {
      const plus = m.map((r) => [...r]);
      const minus = m.map((r) => [...r]);
      plus[i][j] += h;
      minus[i][j] -= h;
      return (f(plus) - f(minus)) / (2 * h);
    }),
  );
}
