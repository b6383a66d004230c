import { cosineMomentum, tf } from "@selfsup/core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { autoBaseMomentum, type BYOL, negativeCosineSimilarity, type SimSiam } from "../src/index.js";
import { createMethod, maxAbsDiff, randomViews, setupBackend, snapshot, stepContext } from "./helpers.js";

beforeAll(setupBackend);

const disposables: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const d of disposables.splice(0)) d.dispose();
});

describe("BYOL target decay", () => {
  it("follows tau_k = 1 - (1 - tau_base)(cos(pi k / K) + 1) / 2 from 0.996 to 1", () => {
    expect(cosineMomentum(0, 100, 0.996)).toBeCloseTo(0.996, 12);
    expect(cosineMomentum(50, 100, 0.996)).toBeCloseTo(0.998, 12);
    expect(cosineMomentum(25, 100, 0.996)).toBeCloseTo(1 - (0.004 * (Math.SQRT1_2 + 1)) / 2, 12); // 0.99658578...
    expect(cosineMomentum(100, 100, 0.996)).toBe(1);
    expect(cosineMomentum(150, 100, 0.996)).toBe(1); // past the end: stays at 1
    expect(cosineMomentum(3, 0, 0.996)).toBe(0.996); // unknown length: the base value
    for (let k = 1; k <= 100; k++)
      expect(cosineMomentum(k, 100, 0.996)).toBeGreaterThanOrEqual(cosineMomentum(k - 1, 100, 0.996));
  });
});

describe("BYOL's default tau_base follows the run's length", () => {
  it("is clamp(1 - 125 / K, 0.9, 0.996): 0.9 for short runs, the paper's 0.996 from 31,250 steps", () => {
    expect(autoBaseMomentum(100)).toBe(0.9);
    expect(autoBaseMomentum(1250)).toBeCloseTo(0.9, 12);
    expect(autoBaseMomentum(2500)).toBeCloseTo(0.95, 12);
    expect(autoBaseMomentum(12500)).toBeCloseTo(0.99, 12);
    expect(autoBaseMomentum(31250)).toBeCloseTo(0.996, 12);
    expect(autoBaseMomentum(1e6)).toBe(0.996);
    expect(autoBaseMomentum(0)).toBe(0.996); // unknown length: the paper's value
    const m = createMethod("byol", {}) as BYOL;
    disposables.push(m);
    expect(m.momentumAt(0, 2500)).toBeCloseTo(0.95, 12);
    const fixed = createMethod("byol", { baseMomentum: 0.99 }) as BYOL;
    disposables.push(fixed);
    expect(fixed.momentumAt(0, 2500)).toBeCloseTo(0.99, 12);
  });
});

describe("BYOL target network", () => {
  it("is untouched by the gradient step, then moves by xi <- tau xi + (1 - tau) theta with tau of the step", () => {
    const m = createMethod("byol", { baseMomentum: 0.9 }) as BYOL;
    disposables.push(m);
    const ctx = stepContext(m, { lr: 0.5, step: 5, totalSteps: 10 });
    const tau = 1 - (0.1 * (Math.cos(Math.PI / 2) + 1)) / 2; // 0.95
    const targetOf = () =>
      new Map([
        ...snapshot(m.target.backbone),
        ...[...snapshot(m.target.projector)].map(([k, v]) => [`p.${k}`, v] as const),
      ]);
    const onlineOf = () =>
      new Map([
        ...snapshot(m.backbone),
        ...[...snapshot(m.projector)].map(([k, v]) => [`p.${k}`, v] as const),
      ]);
    const before = targetOf();
    let duringStep = new Map<string, Float32Array>();
    let online = new Map<string, Float32Array>();
    const inner = ctx.minimize;
    ctx.minimize = (lossFn, vars) => {
      const r = inner(lossFn, vars);
      duringStep = targetOf();
      online = onlineOf();
      return r;
    };
    const views = randomViews(4, 21);
    const result = m.trainStep({ inputs: views[0], views }, ctx);
    expect(result.metrics.momentum).toBeCloseTo(tau, 6);
    const after = targetOf();
    for (const [name, xi] of before) {
      expect(maxAbsDiff(duringStep.get(name)!, xi)).toBe(0);
      const theta = online.get(name)!;
      const want = xi.map((v, i) => tau * v + (1 - tau) * (theta[i] as number));
      expect(maxAbsDiff(after.get(name)!, want)).toBeLessThan(1e-6);
    }
    tf.dispose(views);
    ctx.minimizer.dispose();
  });

  it("gets no gradient, and the predictor is online only", () => {
    const m = createMethod("byol") as BYOL;
    disposables.push(m);
    const targetVars = [...m.target.backbone.namedParameters(), ...m.target.projector.namedParameters()].map(
      (p) => p.variable,
    );
    expect(targetVars.every((v) => !v.trainable)).toBe(true);
    expect(Object.keys(m.modules())).toEqual([
      "backbone",
      "projector",
      "predictor",
      "targetBackbone",
      "targetProjector",
    ]);
    const ctx = stepContext(m);
    let targetGrads = -1;
    let predictorGrads = 0;
    ctx.minimize = (lossFn) => {
      for (const v of targetVars) v.trainable = true;
      try {
        const { value, grads } = tf.variableGrads(
          () => lossFn().loss,
          [...m.trainableVariables(), ...targetVars],
        );
        targetGrads = targetVars.filter((v) => grads[v.name]).length;
        predictorGrads = m.predictor.trainableVariables().filter((v) => grads[v.name]).length;
        const loss = value.dataSync()[0] as number;
        tf.dispose([value, ...Object.values(grads)]);
        return { loss, metrics: {} };
      } finally {
        for (const v of targetVars) v.trainable = false;
      }
    };
    const views = randomViews(4, 22);
    const r = m.trainStep({ inputs: views[0], views }, ctx);
    expect(targetGrads).toBe(0);
    expect(predictorGrads).toBe(m.predictor.trainableVariables().length);
    expect(r.loss).toBeGreaterThan(0);
    expect(r.loss).toBeLessThanOrEqual(8); // two terms of 2 - 2cos in [0, 4]
    tf.dispose(views);
  });
});

describe("SimSiam stop-gradient", () => {
  it("gives exactly the gradients of the loss with the targets computed as constants", () => {
    const m = createMethod("simsiam") as SimSiam;
    disposables.push(m);
    const vars = m.trainableVariables();
    const views = randomViews(6, 31);
    const [v1, v2] = views;
    const z = (v: tf.Tensor) => m.projector.forward(m.backbone.forward(v));

    let methodGrads: tf.NamedTensorMap = {};
    const ctx = stepContext(m);
    ctx.minimize = (lossFn) => {
      const { value, grads } = tf.variableGrads(() => lossFn().loss, vars);
      methodGrads = grads as tf.NamedTensorMap;
      const loss = value.dataSync()[0] as number;
      value.dispose();
      return { loss, metrics: {} };
    };
    m.trainStep({ inputs: v1, views }, ctx);

    // reference: the targets as constants, computed outside any tape (the paper's .detach())
    const z1c = z(v1);
    const z2c = z(v2);
    const reference = tf.variableGrads(() => {
      const p1 = m.predictor.forward(z(v1));
      const p2 = m.predictor.forward(z(v2));
      return tf.mul(
        0.5,
        tf.add(negativeCosineSimilarity(p1, z2c), negativeCosineSimilarity(p2, z1c)),
      ) as tf.Scalar;
    }, vars);
    // and without any stop-gradient, to show the test can tell the difference
    const noStop = tf.variableGrads(() => {
      const a = z(v1);
      const b = z(v2);
      return tf.mul(
        0.5,
        tf.add(
          negativeCosineSimilarity(m.predictor.forward(a), b),
          negativeCosineSimilarity(m.predictor.forward(b), a),
        ),
      ) as tf.Scalar;
    }, vars);

    let maxRef = 0;
    let maxNoStop = 0;
    for (const v of vars) {
      const g = methodGrads[v.name]!.dataSync();
      maxRef = Math.max(maxRef, maxAbsDiff(g, reference.grads[v.name]!.dataSync()));
      maxNoStop = Math.max(maxNoStop, maxAbsDiff(g, noStop.grads[v.name]!.dataSync()));
    }
    expect(maxRef).toBeLessThan(1e-5);
    expect(maxNoStop).toBeGreaterThan(1e-4);
    tf.dispose([
      z1c,
      z2c,
      ...views,
      reference.value,
      noStop.value,
      ...Object.values(reference.grads),
      ...Object.values(noStop.grads),
      ...Object.values(methodGrads),
    ]);
  });
});
