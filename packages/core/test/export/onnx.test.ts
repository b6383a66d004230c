/**
 * ONNX export checked by running the model in onnxruntime-node (its CPU binary ships inside the
 * npm package) on 64 inputs against our own eval-mode forward: max abs difference <= 1e-4, for
 * convnet (each pooling), resnet18 and vit-tiny (each pooling). BatchNorm running statistics and
 * LayerNorm parameters are set to non-trivial values first, so an emitter that ignored them fails.
 */
import * as ort from "onnxruntime-node";
import { beforeAll, describe, expect, it } from "vitest";
import { exportOnnx, ONNX_OPSET, OnnxExportError } from "../../src/export/onnx.js";
import { convNetBackbone } from "../../src/nn/backbones/convnet.js";
import { lstmBackbone } from "../../src/nn/backbones/lstm.js";
import { resNet18Backbone } from "../../src/nn/backbones/resnet.js";
import { textTransformerBackbone } from "../../src/nn/backbones/text-transformer.js";
import { vitTinyBackbone } from "../../src/nn/backbones/vit.js";
import { Linear } from "../../src/nn/layers/linear.js";
import type { FeatureModule } from "../../src/nn/module.js";
import type { BackboneSpec, InputSpec } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { useBackend } from "../nn/helpers.js";
import { buildTrainedLooking, cifar, digits } from "./helpers.js";

beforeAll(async () => {
  await useBackend("cpu");
});

async function maxDiffOnnx(encoder: FeatureModule, input: InputSpec & { kind: "image" }): Promise<number> {
  const bytes = exportOnnx(encoder, { input, source: { test: true } });
  const session = await ort.InferenceSession.create(bytes);
  const shape = [64, input.height, input.width, input.channels];
  const x = tf.randomUniform(shape, 0, 1, "float32", 5);
  const ours = tf.tidy(() => encoder.forward(x));
  try {
    const data = x.dataSync() as Float32Array;
    const result = await session.run({ images: new ort.Tensor("float32", data, shape) });
    const theirs = result.embedding;
    expect(theirs?.dims).toEqual([64, encoder.outputDim]);
    const a = ours.dataSync();
    const b = theirs?.data as Float32Array;
    let max = 0;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
    return max;
  } finally {
    x.dispose();
    ours.dispose();
    await session.release();
  }
}

const textSpec = { kind: "text", vocabSize: 20, seqLen: 8 } as const;

describe("ONNX export, checked with onnxruntime-node on 64 inputs", () => {
  const cases: Array<[string, BackboneSpec, Record<string, unknown>, InputSpec & { kind: "image" }]> = [
    ["convnet (avg)", convNetBackbone, { width: 8 }, digits],
    ["convnet (max, grid 2)", convNetBackbone, { width: 8, pool: "max", grid: 2 }, digits],
    ["convnet (flatten)", convNetBackbone, { width: 4, pool: "flatten", strides: [2, 1, 2] }, digits],
    ["resnet18", resNet18Backbone, { width: 0.125 }, cifar],
    ["vit-tiny (cls)", vitTinyBackbone, { dim: 32, depth: 2, heads: 4 }, digits],
    ["vit-tiny (mean)", vitTinyBackbone, { dim: 32, depth: 1, heads: 2, pool: "mean", patchSize: 4 }, cifar],
    [
      "vit-tiny (max, grid 2)",
      vitTinyBackbone,
      { dim: 16, depth: 1, heads: 2, pool: "max", grid: 2, patchSize: 4 },
      cifar,
    ],
  ];
  for (const [label, spec, options, input] of cases) {
    it(`${label}: max abs diff <= 1e-4`, async () => {
      const encoder = buildTrainedLooking(spec, options, input);
      try {
        const diff = await maxDiffOnnx(encoder, input);
        process.stdout.write(`onnx ${label}: max abs diff ${diff.toExponential(2)}\n`);
        expect(diff).toBeLessThanOrEqual(1e-4);
      } finally {
        encoder.dispose();
      }
    });
  }

  const textCases: Array<[string, Record<string, unknown>]> = [
    ["text-transformer (mean)", { dim: 16, depth: 2, heads: 2 }],
    ["text-transformer (cls, padding)", { dim: 16, depth: 1, heads: 4, pool: "cls", padId: 0 }],
    ["text-transformer (mean, padding)", { dim: 16, depth: 1, heads: 2, padId: 0 }],
  ];
  for (const [label, options] of textCases) {
    it(`${label}: max abs diff <= 1e-4 on 64 token sequences`, async () => {
      const encoder = buildTrainedLooking(textTransformerBackbone, options, textSpec);
      const session = await ort.InferenceSession.create(exportOnnx(encoder, { input: textSpec }));
      // ids with trailing padding (id 0) of varying length
      const rng = new Rng(7);
      const ids = new Int32Array(64 * textSpec.seqLen);
      for (let i = 0; i < 64; i++) {
        const len = 2 + Math.floor(rng.next() * (textSpec.seqLen - 2));
        for (let j = 0; j < len; j++) ids[i * textSpec.seqLen + j] = 1 + Math.floor(rng.next() * 19);
      }
      const x = tf.tensor2d(ids, [64, textSpec.seqLen], "int32");
      try {
        const ours = tf.tidy(() => encoder.forward(x));
        const res = await session.run({ tokens: new ort.Tensor("int32", ids, [64, textSpec.seqLen]) });
        const a = ours.dataSync();
        const b = res.embedding?.data as Float32Array;
        expect(res.embedding?.dims).toEqual([64, encoder.outputDim]);
        let max = 0;
        for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
        process.stdout.write(`onnx ${label}: max abs diff ${max.toExponential(2)}\n`);
        expect(max).toBeLessThanOrEqual(1e-4);
        ours.dispose();
      } finally {
        x.dispose();
        await session.release();
        encoder.dispose();
      }
    });
  }

  it("writes opset 17 and the input spec into the model's metadata", async () => {
    const encoder = buildTrainedLooking(convNetBackbone, { width: 4 }, digits);
    try {
      const session = await ort.InferenceSession.create(
        exportOnnx(encoder, { input: digits, source: { run: "r1" } }),
      );
      expect(session.inputNames).toEqual(["images"]);
      expect(session.outputNames).toEqual(["embedding"]);
      await session.release();
      const { default: onnxProto } = await import("onnx-proto");
      const model = onnxProto.onnx.ModelProto.decode(
        exportOnnx(encoder, { input: digits, source: { run: "r1" } }),
      );
      expect(Number(model.opsetImport[0]?.version)).toBe(ONNX_OPSET);
      const meta = Object.fromEntries(model.metadataProps.map((p) => [p.key, JSON.parse(p.value ?? "null")]));
      expect(meta["selfsup.input"]).toMatchObject({
        layout: "NHWC",
        height: 28,
        width: 28,
        channels: 1,
        range: [0, 1],
      });
      expect(meta["selfsup.output"]).toEqual({ name: "embedding", dim: 16 });
      expect(meta["selfsup.source"]).toEqual({ run: "r1" });
    } finally {
      encoder.dispose();
    }
  });

  it("refuses what it has no emitter for, naming it", () => {
    const lstm = lstmBackbone.build(lstmBackbone.options.parse({}), textSpec, new Rng(1));
    try {
      expect(() => exportOnnx(lstm, { input: textSpec })).toThrow(
        /no ONNX emitter for the text encoder module LSTMEncoder/,
      );
    } finally {
      lstm.dispose();
    }
    class MlpEncoder extends Linear {
      readonly outputDim = 4;
    }
    const mlp = new MlpEncoder(784, 4, new Rng(1));
    try {
      expect(() => exportOnnx(mlp, { input: digits })).toThrow(OnnxExportError);
      expect(() => exportOnnx(mlp, { input: digits })).toThrow(
        /no ONNX emitter for the encoder module MlpEncoder/,
      );
    } finally {
      mlp.dispose();
    }
    const odd = buildTrainedLooking(convNetBackbone, { width: 4, pool: "avg", grid: 3 }, digits); // last map 4x4
    try {
      expect(() => exportOnnx(odd, { input: digits })).toThrow(
        /4x4 map to a 3x3 grid that does not divide it/,
      );
    } finally {
      odd.dispose();
    }
  });
});
