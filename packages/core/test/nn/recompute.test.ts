/**
 * Activation recomputation (src/nn/recompute.ts) in ResNet: the recomputed backward gives the
 * plain backward's gradients (input and every weight) on cpu and wasm, BatchNorm's running
 * statistics move once per step, not once per forward, and a step leaves no tensor behind.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { registerWasmTrainingKernels } from "../../src/backend/wasm-kernels/index.js";
import { type ResNet, resNet18Backbone } from "../../src/nn/backbones/resnet.js";
import { BatchNorm2d, withFrozenRunningStats } from "../../src/nn/layers/batch-norm.js";
import { recomputableModules, recomputedSegment, setAutoRecompute } from "../../src/nn/recompute.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { maxAbsDiff, randomTensor, useBackend } from "./helpers.js";

const input = { kind: "image" as const, height: 8, width: 8, channels: 3 as const };

function resnet(recompute: "auto" | "always" | "never", seed = 1): ResNet {
  const opts = resNet18Backbone.options.parse({ width: 0.125, recompute });
  return resNet18Backbone.build(opts, input, new Rng(seed)) as ResNet;
}

/** Loss = sum(f(x) · r) for a fixed r: every output element gets its own upstream gradient. */
function gradients(
  net: ResNet,
  x: tf.Tensor,
  r: tf.Tensor,
): { dx: tf.Tensor; dw: tf.Tensor[]; loss: number } {
  const vars = net.trainableVariables();
  const f = (xi: tf.Tensor) => tf.sum(tf.mul(net.forward(xi), r));
  const { value, grads } = tf.valueAndGrads(f)([x]);
  const { value: v2, grads: wgrads } = tf.variableGrads(() => f(x) as tf.Scalar, vars);
  v2.dispose();
  const loss = value.dataSync()[0] as number;
  value.dispose();
  return { dx: grads[0] as tf.Tensor, dw: vars.map((v) => wgrads[v.name] as tf.Tensor), loss };
}

const relErr = (a: tf.Tensor, b: tf.Tensor) =>
  maxAbsDiff(a, b) /
  Math.max(
    1e-6,
    tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0] as number),
  );

for (const backend of ["cpu", "wasm"] as const) {
  describe(`ResNet activation recomputation on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
      if (backend === "wasm") registerWasmTrainingKernels();
    });

    it("gives the plain backward's gradients for the input and every weight", () => {
      const plain = resnet("never");
      const recomputed = resnet("always");
      recomputed.copyFrom(plain);
      const x = randomTensor([4, 8, 8, 3], 2, 0, 1);
      const r = randomTensor([4, plain.outputDim], 3);
      const a = gradients(plain, x, r);
      const b = gradients(recomputed, x, r);
      expect(b.loss).toBeCloseTo(a.loss, 4);
      expect(relErr(b.dx, a.dx)).toBeLessThan(1e-4);
      expect(b.dw.length).toBe(a.dw.length);
      expect(a.dw.length).toBe(plain.trainableVariables().length);
      a.dw.forEach((g, i) => {
        expect(relErr(b.dw[i] as tf.Tensor, g)).toBeLessThan(1e-4);
      });
      // Not vacuous: the gradients are not zero.
      expect(tf.tidy(() => tf.max(tf.abs(a.dw[0] as tf.Tensor)).dataSync()[0] as number)).toBeGreaterThan(0);
      tf.dispose([x, r, a.dx, b.dx, ...a.dw, ...b.dw]);
      plain.dispose();
      recomputed.dispose();
    });

    it("moves BatchNorm's running statistics once per step, as the plain step does", () => {
      const plain = resnet("never");
      const recomputed = resnet("always");
      recomputed.copyFrom(plain);
      const x = randomTensor([4, 8, 8, 3], 4, 0, 1);
      for (const net of [plain, recomputed]) {
        const { value, grads } = tf.variableGrads(
          () => tf.mean(tf.square(net.forward(x))) as tf.Scalar,
          net.trainableVariables(),
        );
        value.dispose();
        tf.dispose(Object.values(grads));
      }
      const buffers = (net: ResNet) => net.namedBuffers().map(([, b]) => b);
      const a = buffers(plain);
      const b = buffers(recomputed);
      // The step moved them (running_mean starts at 0) ...
      expect(tf.tidy(() => tf.max(tf.abs(a[0] as tf.Tensor)).dataSync()[0] as number)).toBeGreaterThan(1e-3);
      // ... by exactly one update: a second update would move the mean by another 10%.
      a.forEach((t, i) => {
        expect(maxAbsDiff(b[i] as tf.Tensor, t)).toBeLessThan(1e-5);
      });
      x.dispose();
      plain.dispose();
      recomputed.dispose();
    });

    it("leaves no tensor behind per step, and the forward alone is the plain forward", () => {
      const net = resnet("always");
      const x = randomTensor([2, 8, 8, 3], 5, 0, 1);
      const step = () => {
        const { value, grads } = tf.variableGrads(
          () => tf.mean(tf.square(net.forward(x))) as tf.Scalar,
          net.trainableVariables(),
        );
        value.dispose();
        tf.dispose(Object.values(grads));
      };
      step();
      const before = tf.memory().numTensors;
      step();
      step();
      expect(tf.memory().numTensors).toBe(before);
      // Outside a gradient: no custom op, same values (eval mode uses the running statistics).
      net.eval();
      const y1 = net.forward(x);
      const plain = resnet("never");
      plain.copyFrom(net);
      plain.eval();
      const y2 = plain.forward(x);
      expect(maxAbsDiff(y1, y2)).toBe(0);
      tf.dispose([x, y1, y2]);
      net.dispose();
      plain.dispose();
    });
  });
}

describe("recompute modes", () => {
  beforeAll(async () => {
    await useBackend("cpu");
  });

  it('"auto" is off until setAutoRecompute; "always" and "never" keep their mode', () => {
    const nets = [resnet("auto"), resnet("always"), resnet("never")];
    expect(nets.map((n) => n.recomputeActive)).toEqual([false, true, false]);
    expect(recomputableModules(nets).length).toBe(3);
    expect(setAutoRecompute(nets, true)).toBe(1);
    expect(nets.map((n) => n.recomputeActive)).toEqual([true, true, false]);
    setAutoRecompute(nets, false);
    expect(nets.map((n) => n.recomputeActive)).toEqual([false, true, false]);
    for (const n of nets) n.dispose();
  });

  it("withFrozenRunningStats leaves BatchNorm's outputs alone and its running statistics unchanged", () => {
    const bn = new BatchNorm2d(3);
    const x = randomTensor([4, 2, 2, 3], 6, -2, 5);
    const frozen = withFrozenRunningStats(() => bn.forward(x));
    expect(Array.from(bn.runningMean.dataSync())).toEqual([0, 0, 0]);
    const moved = bn.forward(x);
    expect(maxAbsDiff(frozen, moved)).toBe(0);
    expect(Math.max(...Array.from(bn.runningMean.dataSync()).map(Math.abs))).toBeGreaterThan(0);
    tf.dispose([x, frozen, moved]);
    bn.dispose();
  });

  it("a plain function as a segment: its variables get their gradient through the recomputation", () => {
    const w = tf.variable(tf.tensor1d([2, 3]));
    const x = tf.tensor1d([1, 1]);
    const { grads } = tf.variableGrads(
      () => tf.sum(recomputedSegment(x, [w], (t) => tf.mul(t, w))) as tf.Scalar,
      [w],
    );
    expect(Array.from((grads[w.name] as tf.Tensor).dataSync())).toEqual([1, 1]);
    tf.dispose([x, ...Object.values(grads)]);
    w.dispose();
  });
});
