/**
 * The wasm backend (where selfsup trains by default) computes the same functions as the cpu
 * reference: weights come from our Rng, not from a backend's random ops, so a module built with
 * the same seed on either backend is the same module.
 */
import { describe, expect, it } from "vitest";
import { vitTinyBackbone } from "../../src/nn/backbones/vit.js";
import { builtinBackbones, builtinHeads } from "../../src/nn/builtins.js";
import type { FeatureModule } from "../../src/nn/module.js";
import type { InputSpec } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { randomIds, randomTensor, useBackend } from "./helpers.js";

const image: InputSpec = { kind: "image", height: 16, width: 16, channels: 3 };
const text: InputSpec = { kind: "text", vocabSize: 30, seqLen: 8 };
const tiny: Record<string, Record<string, unknown>> = {
  convnet: { width: 4 },
  resnet18: { width: 0.0625 },
  "vit-tiny": { dim: 16, depth: 2, heads: 2 },
  lstm: { embedDim: 8, hiddenDim: 8 },
  "text-transformer": { dim: 16, depth: 2, heads: 2 },
  mlp: { hiddenDim: 8, outputDim: 4 },
  predictor: { hiddenDim: 4 },
  linear: { outputDim: 3 },
};

interface Outputs {
  train: Float32Array;
  eval: Float32Array;
  grads?: Float32Array[];
}

/** Train- and eval-mode outputs (and optionally gradients) of a freshly built module, on the current backend. */
function outputs(make: () => FeatureModule, input: () => tf.Tensor, withGrads: boolean): Outputs {
  const m = make();
  const x = input();
  const train = tf.tidy(() => m.forward(x)).dataSync() as Float32Array;
  let grads: Float32Array[] | undefined;
  if (withGrads) {
    const vars = m.trainableVariables();
    const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.square(m.forward(x))) as tf.Scalar, vars);
    // Variables off the forward path (text-transformer's mask_token without a mask) have no
    // gradient on any backend; compare the ones that do (the same set on cpu and wasm).
    grads = vars.filter((v) => g[v.name] !== undefined).map((v) => g[v.name]!.dataSync() as Float32Array);
    value.dispose();
    tf.dispose(g);
  }
  m.eval();
  const evalOut = tf.tidy(() => m.forward(x)).dataSync() as Float32Array;
  m.dispose();
  return { train, eval: evalOut, grads };
}

function expectClose(a: Float32Array, b: Float32Array, tol: number): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / (1 + Math.abs(b[i] as number)));
  expect(worst).toBeLessThan(tol);
}

const cases = [
  ...builtinBackbones.map((spec) => {
    const isText = spec.name === "lstm" || spec.name === "text-transformer";
    return {
      name: spec.name,
      make: () => spec.build(spec.options.parse(tiny[spec.name]), isText ? text : image, new Rng(3)),
      input: () => (isText ? randomIds([4, 8], 30, 5) : randomTensor([4, 16, 16, 3], 5, 0, 1)),
      // Gradients of convolutions and gathers need kernels core adds to wasm (src/backend/wasm-kernels).
      gradKernels: isText
        ? ["UnsortedSegmentSum"]
        : spec.name === "vit-tiny"
          ? []
          : ["Conv2DBackpropFilter", "Conv2DBackpropInput"],
    };
  }),
  ...builtinHeads.map((spec) => ({
    name: spec.name,
    make: () => spec.build(spec.options.parse(tiny[spec.name]), 6, new Rng(3)),
    input: () => randomTensor([4, 6], 6),
    gradKernels: [] as string[],
  })),
];

describe.each(cases)("$name on wasm", (c) => {
  it("matches the cpu backend (outputs in train and eval mode; gradients where wasm has the kernels)", async () => {
    await useBackend("wasm");
    try {
      const path = "../../src/backend/wasm-kernels/index.js";
      const mod = (await import(/* @vite-ignore */ path)) as { registerWasmTrainingKernels(): string[] };
      mod.registerWasmTrainingKernels();
    } catch {
      // not there yet: the gradient comparison below is skipped for kernels wasm lacks
    }
    const withGrads = c.gradKernels.every((k) => tf.getKernel(k, "wasm") !== undefined);
    const wasm = outputs(c.make, c.input, withGrads);
    await useBackend("cpu");
    const cpu = outputs(c.make, c.input, withGrads);
    expectClose(wasm.train, cpu.train, 1e-4);
    expectClose(wasm.eval, cpu.eval, 1e-4);
    if (withGrads) for (const [i, g] of wasm.grads!.entries()) expectClose(g, cpu.grads![i]!, 1e-3);
  });
});

describe("vit-tiny with an MAE mask on wasm", () => {
  it("matches cpu, gradients included (the visible-token selection is a matmul)", async () => {
    const make = () =>
      vitTinyBackbone.build(
        vitTinyBackbone.options.parse({ dim: 16, depth: 1, heads: 2 }),
        image,
        new Rng(4),
      );
    const input = () => randomTensor([2, 16, 16, 3], 7, 0, 1);
    const maskRows = [
      [0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1],
      [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1],
    ];
    const run = (): Float32Array[] => {
      const m = make();
      const x = input();
      const mask = tf.tensor2d(maskRows);
      const vars = m.trainableVariables();
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(m.forward(x, { mask }))) as tf.Scalar,
        vars,
      );
      const out = [
        value.dataSync() as Float32Array,
        ...vars.map((v) => grads[v.name]!.dataSync() as Float32Array),
      ];
      value.dispose();
      tf.dispose(grads);
      m.dispose();
      return out;
    };
    await useBackend("wasm");
    const wasm = run();
    await useBackend("cpu");
    const cpu = run();
    for (const [i, w] of wasm.entries()) expectClose(w, cpu[i]!, 1e-3);
  });
});
