import { stopGradient, tf } from "@selfsup/core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  barlowTwinsLoss,
  barlowTwinsLossSpec,
  contrastiveLosses,
  infoNCELoss,
  infoNCELossSpec,
  negativeCosineLossSpec,
  negativeCosineSimilarity,
  ntXentLoss,
  ntXentLossSpec,
  vicregLoss,
  vicregLossSpec,
  vicregTerms,
} from "../src/index.js";
import { setupBackend } from "./helpers.js";
import {
  barlowRef,
  infoNCERef,
  type Mat,
  negCosRef,
  ntXentRef,
  numericGrad,
  randn,
  vicregRef,
} from "./reference.js";

beforeAll(setupBackend);

const t2 = (m: Mat) => tf.tensor2d(m);
const value = (f: () => tf.Scalar): number => {
  const s = f();
  const v = s.dataSync()[0] as number;
  s.dispose();
  return v;
};
const scale = (m: Mat, s: number): Mat => m.map((r) => r.map((v) => v * s));

/** tf.grad of `lossOf(x, other)` w.r.t. x against finite differences of the Float64 reference. */
function expectGradMatches(
  lossOf: (a: tf.Tensor, b: tf.Tensor) => tf.Scalar,
  ref: (a: Mat) => number,
  a: Mat,
  b: Mat,
) {
  const bT = t2(b);
  const aT = t2(a);
  const g = tf.grad((x: tf.Tensor) => lossOf(x, bT))(aT);
  const analytic = g.arraySync() as Mat;
  tf.dispose([aT, bT, g]);
  const numeric = numericGrad(ref, a);
  const maxAbs = Math.max(1e-3, ...numeric.flat().map(Math.abs));
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a[0]!.length; j++) {
      expect(Number.isFinite(analytic[i]![j]!)).toBe(true);
      expect(Math.abs(analytic[i]![j]! - numeric[i]![j]!)).toBeLessThan(2e-3 * maxAbs);
    }
  }
}

describe("NT-Xent", () => {
  const z1 = randn(4, 5, 1);
  const z2 = randn(4, 5, 2);

  it("matches the Float64 reference (N = 4, t = 0.5)", () => {
    expect(value(() => ntXentLoss(t2(z1), t2(z2), { temperature: 0.5 }))).toBeCloseTo(
      ntXentRef(z1, z2, 0.5),
      5,
    );
  });

  it("matches on a batch of 2 (2N - 2 = 2 negatives per sample)", () => {
    const a = randn(2, 3, 3);
    const b = randn(2, 3, 4);
    expect(value(() => ntXentLoss(t2(a), t2(b), { temperature: 0.5 }))).toBeCloseTo(ntXentRef(a, b, 0.5), 5);
  });

  it("handles a batch of 1: no negatives, so the loss is 0 exactly", () => {
    expect(value(() => ntXentLoss(t2([[1, 2]]), t2([[3, -1]])))).toBeCloseTo(0, 6);
  });

  it("matches at temperature extremes 0.01 and 10", () => {
    for (const t of [0.01, 10]) {
      const got = value(() => ntXentLoss(t2(z1), t2(z2), { temperature: t }));
      const want = ntXentRef(z1, z2, t);
      expect(Math.abs(got - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
    }
  });

  it("with identical views the positive is the most similar sample", () => {
    // s_{i,p(i)} = 1/t, every negative < 1/t: the loss is below log(2N - 1), the uniform guess
    const got = value(() => ntXentLoss(t2(z1), t2(z1), { temperature: 0.5 }));
    expect(got).toBeCloseTo(ntXentRef(z1, z1, 0.5), 5);
    expect(got).toBeLessThan(Math.log(2 * 4 - 1));
  });

  it("stays finite and scale-invariant with inputs scaled by 1e4 (large logits in fp32)", () => {
    const got = value(() => ntXentLoss(t2(scale(z1, 1e4)), t2(scale(z2, 1e4)), { temperature: 0.01 }));
    expect(Number.isFinite(got)).toBe(true);
    expect(Math.abs(got - ntXentRef(z1, z2, 0.01))).toBeLessThan(1e-3 * ntXentRef(z1, z2, 0.01));
  });

  it("has the gradient of the reference (finite differences)", () => {
    const a = randn(3, 4, 5);
    const b = randn(3, 4, 6);
    expectGradMatches(
      (x, y) => ntXentLoss(x, y, { temperature: 0.5 }),
      (m) => ntXentRef(m, b, 0.5),
      a,
      b,
    );
    expectGradMatches(
      (x, y) => ntXentLoss(y, x, { temperature: 0.2 }),
      (m) => ntXentRef(a, m, 0.2),
      b,
      a,
    );
  });

  it("refuses a non-positive temperature and mismatched shapes", () => {
    expect(() => ntXentLoss(t2(z1), t2(z2), { temperature: 0 })).toThrow(/temperature must be > 0/);
    expect(() => ntXentLoss(t2(z1), t2(randn(3, 5, 9)))).toThrow(/same shape/);
  });
});

describe("InfoNCE", () => {
  const q = randn(4, 6, 11);
  const k = randn(4, 6, 12);
  const queue = randn(7, 6, 13);

  it("matches the reference with a queue of negatives (MoCo form)", () => {
    expect(value(() => infoNCELoss(t2(q), t2(k), t2(queue), { temperature: 0.07 }))).toBeCloseTo(
      infoNCERef(q, k, queue, 0.07),
      4,
    );
  });

  it("matches the reference with in-batch negatives (CPC form)", () => {
    expect(value(() => infoNCELoss(t2(q), t2(k), null, { temperature: 0.07 }))).toBeCloseTo(
      infoNCERef(q, k, null, 0.07),
      4,
    );
  });

  it("matches on a batch of 2 and at temperatures 0.01 and 10", () => {
    const a = randn(2, 3, 14);
    const b = randn(2, 3, 15);
    const negatives = randn(3, 3, 16);
    for (const t of [0.01, 10]) {
      for (const neg of [negatives, null]) {
        const got = value(() => infoNCELoss(t2(a), t2(b), neg ? t2(neg) : null, { temperature: t }));
        const want = infoNCERef(a, b, neg, t);
        expect(Math.abs(got - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
      }
    }
  });

  it("identical query and key: loss is log(1 + sum_j exp((q.Q_j - 1)/t))", () => {
    const got = value(() => infoNCELoss(t2(q), t2(q), t2(queue), { temperature: 0.07 }));
    expect(got).toBeCloseTo(infoNCERef(q, q, queue, 0.07), 4);
  });

  it("stays finite with inputs scaled by 1e4", () => {
    const got = value(() =>
      infoNCELoss(t2(scale(q, 1e4)), t2(scale(k, 1e4)), t2(scale(queue, 1e4)), { temperature: 0.01 }),
    );
    const want = infoNCERef(q, k, queue, 0.01);
    expect(Number.isFinite(got)).toBe(true);
    expect(Math.abs(got - want)).toBeLessThan(1e-3 * want);
  });

  it("has the gradient of the reference w.r.t. the query (finite differences)", () => {
    const a = randn(3, 4, 17);
    const b = randn(3, 4, 18);
    const negatives = randn(5, 4, 19);
    const negT = t2(negatives);
    expectGradMatches(
      (x, y) => infoNCELoss(x, y, negT, { temperature: 0.2 }),
      (m) => infoNCERef(m, b, negatives, 0.2),
      a,
      b,
    );
    expectGradMatches(
      (x, y) => infoNCELoss(x, y, null, { temperature: 0.5 }),
      (m) => infoNCERef(m, b, null, 0.5),
      a,
      b,
    );
    negT.dispose();
  });

  it("names the expected shape of a wrong queue", () => {
    expect(() => infoNCELoss(t2(q), t2(k), t2(randn(3, 5, 1)))).toThrow(/negatives must be \[K, 6\]/);
  });
});

describe("negative cosine similarity", () => {
  const p = randn(4, 5, 21);
  const z = randn(4, 5, 22);

  it("matches the reference, -1 for identical inputs, and is scale-invariant at 1e4", () => {
    expect(value(() => negativeCosineSimilarity(t2(p), t2(z)))).toBeCloseTo(negCosRef(p, z), 5);
    expect(value(() => negativeCosineSimilarity(t2(p), t2(p)))).toBeCloseTo(-1, 5);
    expect(value(() => negativeCosineSimilarity(t2(scale(p, 1e4)), t2(scale(z, 1e4))))).toBeCloseTo(
      negCosRef(p, z),
      4,
    );
    const two = randn(2, 3, 23);
    const two2 = randn(2, 3, 24);
    expect(value(() => negativeCosineSimilarity(t2(two), t2(two2)))).toBeCloseTo(negCosRef(two, two2), 5);
  });

  it("has the gradient of the reference (finite differences)", () => {
    expectGradMatches(
      (x, y) => negativeCosineSimilarity(x, y),
      (m) => negCosRef(m, z),
      p,
      z,
    );
  });

  it("stopGradient on the target leaves exactly the prediction's gradient", () => {
    const pT = t2(p);
    const zT = t2(z);
    const [gp, gz] = tf.grads((a: tf.Tensor, b: tf.Tensor) => negativeCosineSimilarity(a, stopGradient(b)))([
      pT,
      zT,
    ]);
    expect(Math.max(...(gz!.dataSync() as Float32Array).map(Math.abs))).toBe(0);
    const numeric = numericGrad((m) => negCosRef(m, z), p).flat();
    const analytic = Array.from(gp!.dataSync());
    analytic.forEach((g, i) => {
      expect(g).toBeCloseTo(numeric[i]!, 4);
    });
    tf.dispose([pT, zT, gp!, gz!]);
  });
});

describe("Barlow Twins", () => {
  const z1 = randn(5, 4, 31);
  const z2 = randn(5, 4, 32);

  it("matches the reference with lambda = 5e-3 and with lambda = 1", () => {
    expect(value(() => barlowTwinsLoss(t2(z1), t2(z2)))).toBeCloseTo(barlowRef(z1, z2, 5e-3), 4);
    expect(value(() => barlowTwinsLoss(t2(z1), t2(z2), { lambda: 1 }))).toBeCloseTo(barlowRef(z1, z2, 1), 4);
  });

  it("matches on a batch of 2", () => {
    const a = randn(2, 3, 33);
    const b = randn(2, 3, 34);
    expect(value(() => barlowTwinsLoss(t2(a), t2(b)))).toBeCloseTo(barlowRef(a, b, 5e-3), 4);
  });

  it("identical views: the diagonal is ~1, only the off-diagonal term remains", () => {
    const got = value(() => barlowTwinsLoss(t2(z1), t2(z1)));
    expect(got).toBeCloseTo(barlowRef(z1, z1, 5e-3), 4);
    expect(value(() => barlowTwinsLoss(t2(z1), t2(z1), { lambda: 0 }))).toBeLessThan(1e-6);
  });

  it("is scale-invariant and finite with inputs scaled by 1e4", () => {
    const got = value(() => barlowTwinsLoss(t2(scale(z1, 1e4)), t2(scale(z2, 1e4))));
    expect(got).toBeCloseTo(barlowRef(z1, z2, 5e-3), 3);
  });

  it("has the gradient of the reference (finite differences)", () => {
    const a = randn(4, 3, 35);
    const b = randn(4, 3, 36);
    expectGradMatches(
      (x, y) => barlowTwinsLoss(x, y, { lambda: 0.1 }),
      (m) => barlowRef(m, b, 0.1),
      a,
      b,
    );
  });

  it("refuses a batch of 1 (no batch statistics)", () => {
    expect(() => barlowTwinsLoss(t2([[1, 2]]), t2([[1, 2]]))).toThrow(/at least 2/);
  });
});

describe("VICReg", () => {
  const z1 = randn(5, 4, 41);
  const z2 = randn(5, 4, 42);

  it("matches the reference, term by term (weights 25/25/1)", () => {
    const ref = vicregRef(z1, z2);
    const terms = vicregTerms(t2(z1), t2(z2));
    expect(terms.invariance.dataSync()[0]).toBeCloseTo(ref.invariance, 5);
    expect(terms.variance.dataSync()[0]).toBeCloseTo(ref.variance, 5);
    expect(terms.covariance.dataSync()[0]).toBeCloseTo(ref.covariance, 5);
    expect(terms.loss.dataSync()[0]).toBeCloseTo(ref.loss, 4);
    tf.dispose(Object.values(terms));
  });

  it("matches on a batch of 2 and with identical views (invariance 0)", () => {
    const a = randn(2, 3, 43);
    const b = randn(2, 3, 44);
    expect(value(() => vicregLoss(t2(a), t2(b)))).toBeCloseTo(vicregRef(a, b).loss, 4);
    const same = vicregTerms(t2(z1), t2(z1));
    expect(same.invariance.dataSync()[0]).toBe(0);
    expect(same.loss.dataSync()[0]).toBeCloseTo(vicregRef(z1, z1).loss, 4);
    tf.dispose(Object.values(same));
  });

  it("the variance hinge is 0 once every std exceeds gamma, and 25 * 1 for collapsed embeddings", () => {
    const collapsed = [
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3],
    ];
    const terms = vicregTerms(t2(collapsed), t2(collapsed));
    expect(terms.variance.dataSync()[0]).toBeCloseTo(1 - Math.sqrt(1e-4), 5);
    expect(terms.covariance.dataSync()[0]).toBe(0);
    tf.dispose(Object.values(terms));
    const spread = vicregTerms(t2(scale(z1, 10)), t2(scale(z2, 10)));
    expect(spread.variance.dataSync()[0]).toBe(0);
    tf.dispose(Object.values(spread));
  });

  it("stays finite with inputs scaled by 1e4", () => {
    const got = value(() => vicregLoss(t2(scale(z1, 1e4)), t2(scale(z2, 1e4))));
    const want = vicregRef(scale(z1, 1e4), scale(z2, 1e4)).loss;
    expect(Number.isFinite(got)).toBe(true);
    expect(Math.abs(got - want) / want).toBeLessThan(1e-4);
  });

  it("has the gradient of the reference (finite differences)", () => {
    const a = randn(4, 3, 45);
    const b = randn(4, 3, 46);
    expectGradMatches(
      (x, y) => vicregLoss(x, y),
      (m) => vicregRef(m, b).loss,
      a,
      b,
    );
  });
});

describe("loss specs", () => {
  it("registers nine losses whose defaults give the functions' defaults", () => {
    expect(contrastiveLosses.map((l) => l.name)).toEqual([
      "barlow-twins",
      "dino",
      "ibot-patch",
      "info-nce",
      "moco-v3",
      "negative-cosine",
      "nnclr",
      "nt-xent",
      "vicreg",
    ]);
    const a = randn(4, 3, 51);
    const b = randn(4, 3, 52);
    const q = randn(5, 3, 53);
    const make = (spec: (typeof contrastiveLosses)[number]) => spec.create(spec.options.parse({}));
    expect(value(() => make(ntXentLossSpec)(t2(a), t2(b)))).toBeCloseTo(ntXentRef(a, b, 0.5), 5);
    expect(value(() => make(infoNCELossSpec)(t2(a), t2(b), t2(q)))).toBeCloseTo(infoNCERef(a, b, q, 0.07), 4);
    expect(value(() => make(negativeCosineLossSpec)(t2(a), t2(b)))).toBeCloseTo(negCosRef(a, b), 5);
    expect(value(() => make(barlowTwinsLossSpec)(t2(a), t2(b)))).toBeCloseTo(barlowRef(a, b, 5e-3), 4);
    expect(value(() => make(vicregLossSpec)(t2(a), t2(b)))).toBeCloseTo(vicregRef(a, b).loss, 4);
    expect(() => make(ntXentLossSpec)(t2(a))).toThrow(/missing input z2/);
  });

  it("leaks no tensor", () => {
    const a = t2(randn(4, 3, 61));
    const b = t2(randn(4, 3, 62));
    const a3 = tf.reshape(a, [2, 2, 3]);
    const b3 = tf.reshape(b, [2, 2, 3]);
    const before = tf.memory().numTensors;
    for (const spec of contrastiveLosses) {
      // moco-v3 takes queries and keys of both views; ibot-patch patch logits [B, N, K]
      const inputs = spec.name === "moco-v3" ? [a, b, b, a] : spec.name === "ibot-patch" ? [a3, b3] : [a, b];
      spec
        .create(spec.options.parse({}))(...inputs)
        .dispose();
    }
    vicregLoss(a, b).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, a3, b3]);
  });
});
