import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "../../src/tf.js";
import { Adam, AdamW, createOptimizer, LARS, type ParamRef, SGD } from "../../src/train/optimizers/index.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function param(name: string, values: number[], decay = true): ParamRef {
  return { name, variable: tf.variable(tf.tensor1d(values)), decay };
}

function values(p: ParamRef): number[] {
  return Array.from(p.variable.dataSync());
}

function step(
  opt: { applyGradients(ps: ParamRef[], gs: tf.Tensor[], lr: number): void },
  ps: ParamRef[],
  grads: number[][],
  lr: number,
) {
  const gs = grads.map((g) => tf.tensor1d(g));
  opt.applyGradients(ps, gs, lr);
  for (const g of gs) g.dispose();
}

function close(actual: number[], expected: number[], digits = 6) {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    expect(a).toBeCloseTo(expected[i] as number, digits);
  });
}

describe("SGD", () => {
  it("plain step: p - lr * g", () => {
    const p = param("w", [1, -2]);
    step(new SGD(), [p], [[0.5, 0.25]], 0.1);
    close(values(p), [0.95, -2.025]);
  });

  it("momentum with coupled weight decay matches hand-computed values over two steps", () => {
    const p = param("w", [1, -2]);
    const opt = new SGD({ momentum: 0.9, weightDecay: 0.1 });
    // step 1: g' = g + 0.1 p = [0.6, 0.3]; b = g'; p = p - 0.1 b = [0.94, -2.03]
    step(opt, [p], [[0.5, 0.5]], 0.1);
    close(values(p), [0.94, -2.03]);
    // step 2: g' = [0.594, 0.297]; b = 0.9 [0.6, 0.3] + g' = [1.134, 0.567]; p = [0.8266, -2.0867]
    step(opt, [p], [[0.5, 0.5]], 0.1);
    close(values(p), [0.8266, -2.0867]);
  });

  it("nesterov: d = g + mu * b", () => {
    const p = param("w", [1, -2]);
    const opt = new SGD({ momentum: 0.9, nesterov: true, weightDecay: 0.1 });
    // g' = [0.6, 0.3]; b = g'; d = g' + 0.9 b = [1.14, 0.57]; p = [0.886, -2.057]
    step(opt, [p], [[0.5, 0.5]], 0.1);
    close(values(p), [0.886, -2.057]);
    // g' = [0.5886, 0.2943]; b = 0.9 [0.6, 0.3] + g' = [1.1286, 0.5643]; d = g' + 0.9 b = [1.60434, 0.80217]
    step(opt, [p], [[0.5, 0.5]], 0.1);
    close(values(p), [0.886 - 0.160434, -2.057 - 0.080217]);
  });

  it("skips weight decay for parameters whose decay flag is false", () => {
    const w = param("w", [1]);
    const b = param("b", [1], false);
    step(new SGD({ weightDecay: 0.5 }), [w, b], [[0], [0]], 0.1);
    close(values(w), [0.95]);
    close(values(b), [1]);
  });
});

describe("Adam / AdamW", () => {
  it("Adam's first step moves each weight by lr * sign(g) (bias correction)", () => {
    const p = param("w", [1, 1]);
    step(new Adam(), [p], [[0.5, -0.001]], 0.1);
    close(values(p), [0.9, 1.1], 5);
  });

  it("Adam over three steps of changing gradients matches the formula", () => {
    const p = param("w", [0.3]);
    const opt = new Adam({ beta1: 0.8, beta2: 0.9, eps: 1e-3, weightDecay: 0.2 });
    const grads = [0.5, -1, 2];
    let w = 0.3;
    let m = 0;
    let v = 0;
    grads.forEach((g0, i) => {
      const t = i + 1;
      const g = g0 + 0.2 * w; // coupled L2
      m = 0.8 * m + 0.2 * g;
      v = 0.9 * v + 0.1 * g * g;
      w -= (0.05 * (m / (1 - 0.8 ** t))) / (Math.sqrt(v / (1 - 0.9 ** t)) + 1e-3);
      step(opt, [p], [[g0]], 0.05);
      close(values(p), [w], 6);
    });
  });

  it("AdamW decays the weights directly: p(1 - lr wd) - lr * update", () => {
    const p = param("w", [1]);
    const bias = param("b", [1], false);
    step(new AdamW({ weightDecay: 0.1 }), [p, bias], [[0.5], [0.5]], 0.1);
    // 1 * (1 - 0.01) - 0.1 * 1 = 0.89; the bias gets no decay: 1 - 0.1 = 0.9
    close(values(p), [0.89], 5);
    close(values(bias), [0.9], 5);
    // coupled Adam with the same numbers: the update stays sign-like, so 0.9
    const q = param("w", [1]);
    step(new Adam({ weightDecay: 0.1 }), [q], [[0.5]], 0.1);
    close(values(q), [0.9], 5);
  });
});

describe("LARS", () => {
  it("scales the update by the trust ratio eta ||p|| / ||g + wd p||", () => {
    const p = param("w", [3, 4]); // ||p|| = 5
    const opt = new LARS({ momentum: 0.9, weightDecay: 0.1, trustCoefficient: 0.02 });
    // g' = [0.3, 0.4] + 0.1 [3, 4] = [0.6, 0.8], ||g'|| = 1; trust = 0.02 * 5 / 1 = 0.1
    // b = [0.06, 0.08]; p = p - 1 * b
    step(opt, [p], [[0.3, 0.4]], 1);
    close(values(p), [2.94, 3.92]);
    // step 2, g = 0: g' = 0.1 [2.94, 3.92] = [0.294, 0.392], ||g'|| = 0.49, ||p|| = 4.9, trust = 0.2
    // scaled = [0.0588, 0.0784]; b = 0.9 [0.06, 0.08] + scaled = [0.1128, 0.1504]
    step(opt, [p], [[0, 0]], 1);
    close(values(p), [2.94 - 0.1128, 3.92 - 0.1504]);
  });

  it("excludes biases and norms (decay false) from adaptation and decay", () => {
    const b = param("bias", [1, 1], false);
    step(new LARS({ momentum: 0.9, weightDecay: 0.1, trustCoefficient: 0.001 }), [b], [[0.5, -0.5]], 0.1);
    close(values(b), [0.95, 1.05]);
  });

  it("uses a trust ratio of 1 when the weights are zero", () => {
    const p = param("w", [0, 0]);
    step(new LARS({ momentum: 0, trustCoefficient: 0.001 }), [p], [[1, 2]], 0.1);
    close(values(p), [-0.1, -0.2]);
  });
});

describe("optimizer state", () => {
  it("getState/setState continue exactly where the first optimizer stopped", () => {
    for (const name of ["sgd", "adam", "adamw", "lars"] as const) {
      const cfg = { name, momentum: 0.9, weightDecay: 0.01 };
      const a = createOptimizer(cfg);
      const p = param("w", [0.5, -0.25, 2]);
      step(a, [p], [[0.1, 0.2, -0.3]], 0.05);
      step(a, [p], [[0.3, -0.1, 0.2]], 0.05);
      const q = param("w", values(p));
      const b = createOptimizer(cfg);
      const state = a.getState();
      expect(state.step).toBe(2);
      b.setState({
        step: state.step,
        paramSteps: state.paramSteps,
        slots: new Map([...state.slots].map(([k, t]) => [k, t.clone()])),
      });
      step(a, [p], [[-0.2, 0.4, 0.1]], 0.05);
      step(b, [q], [[-0.2, 0.4, 0.1]], 0.05);
      expect(values(q), name).toEqual(values(p));
      a.dispose();
      b.dispose();
    }
  });

  it("does not leak tensors per update", () => {
    const p = param("w", [1, 2]);
    const opt = new LARS({ momentum: 0.9, nesterov: true, weightDecay: 0.1 });
    step(opt, [p], [[1, 1]], 0.1);
    const before = tf.memory().numTensors;
    step(opt, [p], [[1, 1]], 0.1);
    step(opt, [p], [[1, 1]], 0.1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a gradient of the wrong shape, naming the parameter", () => {
    const p = param("encoder.fc.weight", [1, 2]);
    expect(() => step(new SGD(), [p], [[1, 2, 3]], 0.1)).toThrow(/encoder\.fc\.weight/);
  });
});
