/**
 * TF.js graph-model export, loaded back with tfjs-converter's loadGraphModelSync (what
 * tf.loadGraphModel does after fetching) and run on 64 inputs against our own eval-mode forward:
 * max abs difference <= 1e-4 for convnet, resnet18 and vit-tiny.
 */
import { loadGraphModelSync } from "@tensorflow/tfjs-converter";
import { beforeAll, describe, expect, it } from "vitest";
import { exportTfjsGraph } from "../../src/export/tfjs.js";
import { convNetBackbone } from "../../src/nn/backbones/convnet.js";
import { resNet18Backbone } from "../../src/nn/backbones/resnet.js";
import { vitTinyBackbone } from "../../src/nn/backbones/vit.js";
import type { BackboneSpec, InputSpec } from "../../src/plugin/types.js";
import { tf } from "../../src/tf.js";
import { useBackend } from "../nn/helpers.js";
import { buildTrainedLooking, cifar, digits } from "./helpers.js";

beforeAll(async () => {
  await useBackend("cpu");
});

describe("TF.js graph-model export, run by tfjs-converter on 64 inputs", () => {
  const cases: Array<[string, BackboneSpec, Record<string, unknown>, InputSpec & { kind: "image" }]> = [
    ["convnet (avg)", convNetBackbone, { width: 8 }, digits],
    ["convnet (max, grid 2)", convNetBackbone, { width: 4, pool: "max", grid: 2 }, digits],
    ["resnet18", resNet18Backbone, { width: 0.125 }, cifar],
    ["vit-tiny (cls)", vitTinyBackbone, { dim: 16, depth: 1, heads: 2, patchSize: 7 }, digits],
    ["vit-tiny (mean)", vitTinyBackbone, { dim: 16, depth: 1, heads: 2, pool: "mean" }, cifar],
  ];
  for (const [label, spec, options, input] of cases) {
    it(`${label}: max abs diff <= 1e-4`, async () => {
      const encoder = buildTrainedLooking(spec, options, input);
      const files = exportTfjsGraph(encoder, { input, source: { test: true } });
      const json = JSON.parse(files["model.json"] as string);
      expect(json.format).toBe("graph-model");
      expect(json.userDefinedMetadata.input).toMatchObject({ layout: "NHWC", height: input.height });
      const shard = files["group1-shard1of1.bin"] as Uint8Array;
      const model = loadGraphModelSync([
        json,
        shard.buffer.slice(shard.byteOffset, shard.byteOffset + shard.byteLength) as ArrayBuffer,
      ]);
      const x = tf.randomUniform([64, input.height, input.width, input.channels], 0, 1, "float32", 5);
      try {
        const ours = tf.tidy(() => encoder.forward(x));
        const theirs = model.execute(x, "embedding") as tf.Tensor;
        expect(theirs.shape).toEqual([64, encoder.outputDim]);
        const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0] as number);
        process.stdout.write(`tfjs ${label}: max abs diff ${diff.toExponential(2)}\n`);
        expect(diff).toBeLessThanOrEqual(1e-4);
        ours.dispose();
        theirs.dispose();
      } finally {
        x.dispose();
        model.dispose();
        encoder.dispose();
      }
    });
  }
});
