/**
 * Flat optimizer updates (issue 30): every parameter in one vector must give the per-parameter
 * update bit for bit, keep the checkpoint format (slots per parameter) and resume exactly. Run on
 * cpu, and on the native tensorflow backend (where flat is the default) when it is built.
 */
import { describe, expect, it } from "vitest";
import { tf } from "../../src/tf.js";
import { Minimizer } from "../../src/train/minimizer.js";
import {
  Adam,
  AdamW,
  FLAT_MAX_VALUES,
  type Optimizer,
  type OptimizerState,
  type ParamRef,
  SGD,
} from "../../src/train/optimizers/index.js";
import { HAS_NATIVE, randomValues, setupBackends } from "../backend/helpers.js";

const BACKENDS = ["cpu", ...(HAS_NATIVE ? ["tensorflow"] : [])];

it("the large test parameter is over FLAT_MAX_VALUES, the others under", () => {
  expect(257 * 256).toBeGreaterThan(FLAT_MAX_VALUES);
});

/** Parameters of several ranks, some without decay (as biases and norms), from a seed. */
const SHAPES: Array<{ name: string; shape: number[]; decay: boolean }> = [
  { name: "conv.weight", shape: [3, 3, 2, 4], decay: true },
  { name: "bn.gamma", shape: [4], decay: false },
  { name: "fc.weight", shape: [4, 5], decay: true },
  { name: "fc.bias", shape: [5], decay: false },
  { name: "scale", shape: [], decay: false },
  // larger than FLAT_MAX_VALUES: updated per parameter beside the flat ones
  { name: "big.weight", shape: [257, 256], decay: true },
];

function makeParams(seed: number): ParamRef[] {
  return SHAPES.map((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    return {
      name: s.name,
      decay: s.decay,
      variable: tf.variable(tf.tensor(randomValues(n, seed + i), s.shape, "float32")),
    };
  });
}

/** Gradients for step `k`, one per parameter (the same on every call). */
function makeGrads(k: number): tf.Tensor[] {
  return SHAPES.map((s, i) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const g = randomValues(n, 1000 * (k + 1) + i);
    if (i === 1 && k === 1) g.fill(0); // a zero gradient, as a frozen branch gives
    return tf.tensor(g, s.shape, "float32");
  });
}

function applyStep(opt: Optimizer, params: ParamRef[], k: number, lr: number, only?: number[]): void {
  const grads = makeGrads(k);
  const pick = only ?? params.map((_, i) => i);
  opt.applyGradients(
    pick.map((i) => params[i] as ParamRef),
    pick.map((i) => grads[i] as tf.Tensor),
    lr,
  );
  for (const g of grads) g.dispose();
}

function snapshot(params: ParamRef[]): Float32Array[] {
  return params.map((p) => p.variable.dataSync() as Float32Array);
}

function stateValues(state: OptimizerState): Record<string, number[]> {
  return Object.fromEntries([...state.slots].map(([k, t]) => [k, Array.from(t.dataSync())]));
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let m = 0;
  a.forEach((x, i) => {
    const y = b[i] as Float32Array;
    expect(y.length).toBe(x.length);
    for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs((x[j] as number) - (y[j] as number)));
  });
  return m;
}

const OPTIMIZERS: Array<[string, (flat: boolean) => Optimizer]> = [
  ["adamw", (flat) => new AdamW({ weightDecay: 0.05, flat })],
  ["adam", (flat) => new Adam({ weightDecay: 0.01, flat })],
  ["adam (no decay)", (flat) => new Adam({ flat })],
  ["sgd", (flat) => new SGD({ momentum: 0.9, nesterov: true, weightDecay: 5e-4, flat })],
  ["sgd (plain)", (flat) => new SGD({ flat })],
];

describe.each(BACKENDS)("flat optimizer updates on %s", (backend) => {
  const use = async () => {
    await setupBackends();
    await tf.setBackend(backend);
  };

  it.each(OPTIMIZERS)(
    "%s: the flat update equals the per-parameter one bit for bit over 4 steps",
    async (_, make) => {
      await use();
      const a = makeParams(1);
      const b = makeParams(1);
      const perParam = make(false);
      const flat = make(true);
      const noGrads = a.map((p) => p.variable);
      expect(perParam.splitFlat(a, noGrads).flat).toEqual([]);
      // every parameter but the large one (over FLAT_MAX_VALUES values) goes flat
      expect(flat.splitFlat(b, noGrads).flat.map((p) => p.name)).toEqual(
        SHAPES.filter((s) => s.name !== "big.weight").map((s) => s.name),
      );
      for (let k = 0; k < 4; k++) {
        const lr = 0.01 * (1 + Math.cos(k)); // changing, as a schedule
        applyStep(perParam, a, k, lr);
        applyStep(flat, b, k, lr);
        expect(maxAbsDiff(snapshot(a), snapshot(b))).toBe(0);
      }
      // The same checkpoint format: per-parameter slots, equal values.
      const sa = perParam.getState();
      const sb = flat.getState();
      // in the same order too (by name), so the checkpoint files are the same bytes
      expect([...sb.slots.keys()]).toEqual([...sa.slots.keys()]);
      expect([...sb.slots.keys()]).toEqual([...sa.slots.keys()].sort());
      expect(JSON.stringify(sb.paramSteps)).toBe(JSON.stringify(sa.paramSteps));
      expect(stateValues(sb)).toEqual(stateValues(sa));
      for (const p of [...a, ...b]) p.variable.dispose();
      perParam.dispose();
      flat.dispose();
    },
  );

  it("resumes exactly from a flat optimizer's state, into a flat or a per-parameter one", async () => {
    await use();
    const run = makeParams(2);
    const whole = new AdamW({ weightDecay: 0.05, flat: true });
    for (let k = 0; k < 4; k++) applyStep(whole, run, k, 0.01);
    for (const resumeFlat of [true, false]) {
      const params = makeParams(2);
      const first = new AdamW({ weightDecay: 0.05, flat: true });
      for (let k = 0; k < 2; k++) applyStep(first, params, k, 0.01);
      const saved = first.getState();
      // What a checkpoint does: copies of the slots, the optimizer gone.
      const copy: OptimizerState = {
        step: saved.step,
        paramSteps: { ...saved.paramSteps },
        slots: new Map([...saved.slots].map(([k, t]) => [k, t.clone()])),
      };
      first.dispose();
      const second = new AdamW({ weightDecay: 0.05, flat: resumeFlat });
      second.setState(copy);
      for (const t of copy.slots.values()) t.dispose();
      for (let k = 2; k < 4; k++) applyStep(second, params, k, 0.01);
      expect(maxAbsDiff(snapshot(params), snapshot(run))).toBe(0);
      expect(stateValues(second.getState())).toEqual(stateValues(whole.getState()));
      second.dispose();
      for (const p of params) p.variable.dispose();
    }
    whole.dispose();
    for (const p of run) p.variable.dispose();
  });

  it("a different subset of parameters folds the flat slots back (same result as per-parameter)", async () => {
    await use();
    const a = makeParams(3);
    const b = makeParams(3);
    const perParam = new AdamW({ weightDecay: 0.05, flat: false });
    const flat = new AdamW({ weightDecay: 0.05, flat: true });
    // all, subsets (flat, then a new flat list), then all with mixed update counts (per parameter)
    const plan: Array<number[] | undefined> = [undefined, [0, 2], [1, 3, 4], [0, 5], undefined, [0, 1]];
    plan.forEach((only, k) => {
      applyStep(perParam, a, k, 0.02, only);
      applyStep(flat, b, k, 0.02, only);
      expect(maxAbsDiff(snapshot(a), snapshot(b))).toBe(0);
    });
    expect(stateValues(flat.getState())).toEqual(stateValues(perParam.getState()));
    for (const p of [...a, ...b]) p.variable.dispose();
    perParam.dispose();
    flat.dispose();
  });

  it("leaks no tensors per flat step, including after getState", async () => {
    await use();
    const params = makeParams(4);
    const opt = new AdamW({ weightDecay: 0.05, flat: true });
    applyStep(opt, params, 0, 0.01);
    opt.getState();
    applyStep(opt, params, 1, 0.01);
    const before = tf.memory().numTensors;
    applyStep(opt, params, 2, 0.01);
    opt.getState();
    applyStep(opt, params, 3, 0.01);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
    for (const p of params) p.variable.dispose();
  });

  it("the minimizer's flat path: same weights, gradient norm to float32 rounding, clipping included", async () => {
    await use();
    for (const clipGradNorm of [undefined, 0.5]) {
      const results = [false, true].map((flat) => {
        const params = makeParams(5);
        const optimizer = new AdamW({ weightDecay: 0.05, flat });
        const minimizer = new Minimizer({
          optimizer,
          params: new Map(params.map((p) => [p.variable, p])),
          defaultVars: () => params.map((p) => p.variable),
          schedule: (step) => 0.01 / (1 + step),
          ...(clipGradNorm !== undefined ? { clipGradNorm } : {}),
        });
        const target = makeGrads(7);
        const losses: number[] = [];
        const norms: number[] = [];
        for (let k = 0; k < 3; k++) {
          minimizer.step = k;
          const r = minimizer.minimize(() => ({
            loss: tf.addN(
              params.map((p, i) => tf.sum(tf.square(tf.sub(p.variable, target[i] as tf.Tensor)))),
            ) as tf.Scalar,
          }));
          losses.push(r.loss);
          norms.push(minimizer.lastUpdate?.gradNorm ?? Number.NaN);
        }
        const weights = snapshot(params);
        for (const t of target) t.dispose();
        minimizer.dispose();
        optimizer.dispose();
        for (const p of params) p.variable.dispose();
        return { losses, norms, weights };
      });
      const [perParam, flat] = results as [(typeof results)[0], (typeof results)[0]];
      for (let k = 0; k < 3; k++)
        expect(Math.abs((flat.norms[k] as number) / (perParam.norms[k] as number) - 1)).toBeLessThan(1e-6);
      if (clipGradNorm === undefined) {
        // no clipping: the norm does not feed back, so everything else is bit for bit
        expect(flat.losses).toEqual(perParam.losses);
        expect(maxAbsDiff(flat.weights, perParam.weights)).toBe(0);
      } else {
        expect(perParam.norms[0]).toBeGreaterThan(clipGradNorm); // the clip is active
        expect(maxAbsDiff(flat.weights, perParam.weights)).toBeLessThan(1e-6);
      }
    }
  });
});
