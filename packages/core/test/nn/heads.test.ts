import { beforeAll, describe, expect, it } from "vitest";
import { builtinHeads } from "../../src/nn/builtins.js";
import { type LinearHead, linearHead } from "../../src/nn/heads/linear.js";
import { type MLPHead, mlpHead } from "../../src/nn/heads/mlp.js";
import { type PredictorHead, predictorHead } from "../../src/nn/heads/predictor.js";
import { BatchNorm1d } from "../../src/nn/layers/batch-norm.js";
import { Linear } from "../../src/nn/layers/linear.js";
import type { FeatureModule } from "../../src/nn/module.js";
import type { HeadSpec } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { expectGradientsEverywhere, randomTensor, useBackend } from "./helpers.js";

beforeAll(async () => {
  await useBackend("cpu");
});

function build(spec: HeadSpec, options: Record<string, unknown>, inputDim: number): FeatureModule {
  return spec.build(spec.options.parse(options), inputDim, new Rng(1));
}

describe("builtin heads", () => {
  it("registers mlp, predictor and linear", () => {
    expect(builtinHeads.map((h) => h.name)).toEqual(["mlp", "predictor", "linear"]);
    expect(mlpHead.options.parse({})).toEqual({
      layers: 2,
      hiddenDim: 512,
      outputDim: 128,
      batchNorm: true,
      lastBatchNorm: false,
      lastBatchNormAffine: false,
    });
  });
});

describe("mlp projector", () => {
  it("SimCLR style: Linear(no bias)-BN-ReLU-Linear, [B, in] -> [B, out]", () => {
    const head = build(mlpHead, { hiddenDim: 16, outputDim: 8 }, 12) as MLPHead;
    expect(head.outputDim).toBe(8);
    expect([...head.stateDict().keys()]).toEqual([
      "net.0.weight",
      "net.1.weight",
      "net.1.bias",
      "net.3.weight",
      "net.3.bias",
      "net.1.running_mean",
      "net.1.running_var",
    ]);
    const x = randomTensor([4, 12], 1);
    expect(head.forward(x).shape).toEqual([4, 8]);
    expectGradientsEverywhere(head, () => head.forward(x));
  });

  it("Barlow Twins / VICReg style: 3 layers; SimSiam style: a final BN without affine", () => {
    const three = build(mlpHead, { layers: 3, hiddenDim: 16, outputDim: 16 }, 12) as MLPHead;
    expect(three.net.layers.filter((m) => m instanceof Linear)).toHaveLength(3);
    expect(three.net.layers.filter((m) => m instanceof BatchNorm1d)).toHaveLength(2);
    const simsiam = build(
      mlpHead,
      { layers: 3, hiddenDim: 16, outputDim: 16, lastBatchNorm: true },
      12,
    ) as MLPHead;
    const last = simsiam.net.layers[simsiam.net.length - 1] as BatchNorm1d;
    expect(last).toBeInstanceOf(BatchNorm1d);
    expect(last.weight).toBeUndefined();
    const lastLinear = simsiam.net.layers[simsiam.net.length - 2] as Linear;
    expect(lastLinear.bias).toBeUndefined();
    expect(simsiam.forward(randomTensor([3, 12], 2)).shape).toEqual([3, 16]);
  });

  it("without batchNorm: Linear(+bias)-ReLU-Linear, and accepts a batch of one", () => {
    const head = build(mlpHead, { hiddenDim: 16, outputDim: 8, batchNorm: false }, 12) as MLPHead;
    expect(head.net.layers.some((m) => m instanceof BatchNorm1d)).toBe(false);
    expect(head.forward(randomTensor([1, 12], 3)).shape).toEqual([1, 8]);
  });

  it("a single layer is a plain linear projection", () => {
    const head = build(mlpHead, { layers: 1, outputDim: 5 }, 12) as MLPHead;
    expect(head.net.length).toBe(1);
  });
});

describe("predictor", () => {
  it("maps back to the input width through a bottleneck by default", () => {
    const head = build(predictorHead, { hiddenDim: 4 }, 16) as PredictorHead;
    expect(head.outputDim).toBe(16);
    expect(head.fc1.outFeatures).toBe(4);
    expect(head.fc1.bias).toBeUndefined();
    const x = randomTensor([3, 16], 4);
    expect(head.forward(x).shape).toEqual([3, 16]);
    expectGradientsEverywhere(head, () => head.forward(x));
    expect(
      (build(predictorHead, { outputDim: 7, batchNorm: false }, 16) as PredictorHead).bn,
    ).toBeUndefined();
  });
});

describe("linear classifier", () => {
  it("maps features to logits, optionally after a non-affine BN", () => {
    const head = build(linearHead, { outputDim: 3 }, 10) as LinearHead;
    expect(head.forward(randomTensor([2, 10], 5)).shape).toEqual([2, 3]);
    expect(head.parameterCount()).toBe(33);
    const probe = build(linearHead, { outputDim: 3, batchNorm: true }, 10) as LinearHead;
    expect(probe.parameterCount()).toBe(33);
    expect(probe.namedBuffers().map(([n]) => n)).toEqual(["bn.running_mean", "bn.running_var"]);
  });
});
