/**
 * The Module contract, checked on every built-in backbone and head: state dict round trip, clone,
 * seeded initialisation, weight-decay masks, and no tensor leaks.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { builtinBackbones, builtinHeads } from "../../src/nn/builtins.js";
import type { FeatureModule } from "../../src/nn/module.js";
import type { InputSpec } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { maxAbsDiff, randomIds, randomTensor, run, useBackend } from "./helpers.js";

beforeAll(async () => {
  await useBackend("cpu");
});

interface Case {
  name: string;
  make(seed: number): FeatureModule;
  input(): tf.Tensor;
}

const image: InputSpec = { kind: "image", height: 16, width: 16, channels: 1 };
const text: InputSpec = { kind: "text", vocabSize: 30, seqLen: 8 };
const tiny: Record<string, Record<string, unknown>> = {
  convnet: { width: 4 },
  resnet18: { width: 0.0625, layers: [1, 1, 1, 1] },
  "vit-tiny": { dim: 16, depth: 1, heads: 2, maskMode: "token" },
  lstm: { embedDim: 8, hiddenDim: 8 },
  "text-transformer": { dim: 16, depth: 1, heads: 2 },
  mlp: { hiddenDim: 8, outputDim: 4, lastBatchNorm: true, lastBatchNormAffine: true },
  predictor: { hiddenDim: 4 },
  linear: { outputDim: 3, batchNorm: true },
};

const cases: Case[] = [
  ...builtinBackbones.map((spec) => {
    const isText = spec.name === "lstm" || spec.name === "text-transformer";
    const input = isText ? text : image;
    return {
      name: spec.name,
      make: (seed: number) => spec.build(spec.options.parse(tiny[spec.name]), input, new Rng(seed)),
      input: () => (isText ? randomIds([3, 8], 30, 11) : randomTensor([3, 16, 16, 1], 11, 0, 1)),
    };
  }),
  ...builtinHeads.map((spec) => ({
    name: spec.name,
    make: (seed: number) => spec.build(spec.options.parse(tiny[spec.name]), 6, new Rng(seed)),
    input: () => randomTensor([3, 6], 12),
  })),
];

/** Moves the weights and BN running stats away from their init, so copies are really tested. */
function perturb(m: FeatureModule, seed: number): void {
  for (const [i, p] of m.namedParameters().entries()) {
    p.variable.assign(tf.add(p.variable, randomTensor(p.variable.shape, seed + i, -0.1, 0.1)));
  }
  for (const [i, [, b]] of m.namedBuffers().entries()) {
    b.assign(tf.add(b, randomTensor(b.shape, seed + 1000 + i, 0, 0.5)));
  }
}

describe.each(cases)("$name", (c) => {
  it("same seed -> same weights; different seed -> different weights", () => {
    const a = c.make(7);
    const b = c.make(7);
    const d = c.make(8);
    const weights = (m: FeatureModule) => m.namedParameters().filter((p) => p.decay);
    expect(weights(a).length).toBeGreaterThan(0);
    weights(a).forEach((p, i) => {
      expect(Array.from(p.variable.dataSync())).toEqual(Array.from(weights(b)[i]!.variable.dataSync()));
    });
    expect(weights(a).some((p, i) => maxAbsDiff(p.variable, weights(d)[i]!.variable) > 0)).toBe(true);
    for (const m of [a, b, d]) m.dispose();
  });

  it("stateDict -> loadStateDict reproduces the outputs in eval mode", () => {
    const src = c.make(1);
    perturb(src, 100);
    const dst = c.make(2);
    const x = c.input();
    src.eval();
    dst.eval();
    expect(maxAbsDiff(src.forward(x), dst.forward(x))).toBeGreaterThan(0);
    const copies = new Map([...src.stateDict()].map(([k, v]) => [k, tf.clone(v)]));
    dst.loadStateDict(copies);
    expect(run(() => dst.forward(x)).values).toEqual(run(() => src.forward(x)).values);
  });

  it("clone() computes the same function with independent variables", () => {
    const src = c.make(3);
    perturb(src, 200);
    src.eval();
    const copy = src.clone();
    expect(copy.training).toBe(false);
    expect(copy.outputDim).toBe(src.outputDim);
    const x = c.input();
    const before = run(() => src.forward(x)).values;
    expect(run(() => copy.forward(x)).values).toEqual(before);
    const srcVars = new Set(src.namedParameters().map((p) => p.variable));
    expect(copy.namedParameters().some((p) => srcVars.has(p.variable))).toBe(false);
    for (const p of copy.namedParameters()) p.variable.assign(tf.zerosLike(p.variable));
    for (const [, b] of copy.namedBuffers()) b.assign(tf.onesLike(b));
    expect(run(() => src.forward(x)).values).toEqual(before);
    copy.dispose();
    expect(run(() => src.forward(x)).values).toEqual(before);
  });

  it("excludes biases, norm parameters and tokens from weight decay", () => {
    const m = c.make(4);
    const noDecay = m.namedParameters().filter((p) => !p.decay);
    for (const p of noDecay) {
      expect(p.name).toMatch(
        /(bias|norm\d?\.weight|bn\d?\.weight|_bn\.weight|token|pos_embed|^net\.\d+\.weight)$/,
      );
      // net.N.weight without decay may only be a BatchNorm scale (1-d)
      expect(p.variable.rank === 1 || /token|pos_embed/.test(p.name)).toBe(true);
    }
    for (const p of m.namedParameters().filter((q) => q.decay)) {
      expect(p.variable.rank).toBeGreaterThanOrEqual(2);
    }
  });

  it("leaks no tensor in a training-mode forward under tf.tidy, nor in a gradient step", () => {
    const m = c.make(5);
    const x = c.input();
    m.forward(x).dispose(); // warm-up (tfjs caches a few scalars on first use)
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      m.forward(x);
    });
    expect(tf.memory().numTensors).toBe(before);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(m.forward(x))) as tf.Scalar,
      m.trainableVariables(),
    );
    value.dispose();
    tf.dispose(grads);
    expect(tf.memory().numTensors).toBe(before);
  });
});
