/**
 * safetensors export: names, PyTorch layouts (conv [out, in, kh, kw], linear [out, in]), BatchNorm
 * counters, metadata, 8-byte aligned data; read back byte for byte.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { exportSafetensors, readSafetensors } from "../../src/export/safetensors.js";
import { ConvNet, convNetBackbone } from "../../src/nn/backbones/convnet.js";
import { resNet18Backbone } from "../../src/nn/backbones/resnet.js";
import { ViT, vitTinyBackbone } from "../../src/nn/backbones/vit.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { useBackend } from "../nn/helpers.js";

beforeAll(async () => {
  await useBackend("cpu");
});

const digits = { kind: "image", height: 28, width: 28, channels: 1 } as const;

describe("safetensors export", () => {
  it("convnet in PyTorch layout: names, shapes, transposed values, num_batches_tracked, metadata", () => {
    const net = new ConvNet(convNetBackbone.options.parse({ width: 4 }), digits, new Rng(2));
    try {
      const bytes = exportSafetensors(net, {
        input: digits,
        metadata: { backbone: { name: "convnet", options: { width: 4 } } },
      });
      const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      expect((8 + headerLen) % 8).toBe(0);
      const { tensors, metadata } = readSafetensors(bytes);
      expect([...tensors.keys()].sort()).toEqual(
        [
          "block1.conv.weight",
          "block1.bn.weight",
          "block1.bn.bias",
          "block1.bn.running_mean",
          "block1.bn.running_var",
          "block1.bn.num_batches_tracked",
          "block2.conv.weight",
          "block2.bn.weight",
          "block2.bn.bias",
          "block2.bn.running_mean",
          "block2.bn.running_var",
          "block2.bn.num_batches_tracked",
          "block3.conv.weight",
          "block3.bn.weight",
          "block3.bn.bias",
          "block3.bn.running_mean",
          "block3.bn.running_var",
          "block3.bn.num_batches_tracked",
        ].sort(),
      );
      const w = tensors.get("block2.conv.weight");
      expect(w?.shape).toEqual([8, 4, 3, 3]);
      // ours [kh, kw, in, out] -> [out, in, kh, kw]
      const ours = net.blocks[1]?.conv.weight.arraySync() as number[][][][];
      const o = 5,
        i = 2,
        y = 1,
        x = 2;
      expect(w?.data[((o * 4 + i) * 3 + y) * 3 + x]).toBeCloseTo(ours[y]?.[x]?.[i]?.[o] as number, 7);
      expect(tensors.get("block1.bn.num_batches_tracked")).toMatchObject({ dtype: "I64", shape: [] });
      expect(metadata).toMatchObject({ format: "selfsup-encoder", layout: "pytorch", outputDim: "16" });
      expect(JSON.parse(metadata.input ?? "{}")).toEqual(digits);
      expect(JSON.parse(metadata.backbone ?? "{}")).toEqual({ name: "convnet", options: { width: 4 } });
    } finally {
      net.dispose();
    }
  });

  it("resnet18 and vit-tiny: every state-dict tensor, linear weights as [out, in]; selfsup layout unchanged", () => {
    const cifar = { kind: "image", height: 16, width: 16, channels: 3 } as const;
    const rn = resNet18Backbone.build(resNet18Backbone.options.parse({ width: 0.125 }), cifar, new Rng(1));
    const vit = new ViT(vitTinyBackbone.options.parse({ dim: 16, depth: 1, heads: 2 }), cifar, new Rng(1));
    try {
      const r = readSafetensors(exportSafetensors(rn, { input: cifar })).tensors;
      expect(r.get("layer2_0.shortcut_conv.weight")?.shape).toEqual([16, 8, 1, 1]);
      expect(r.get("stem.weight")?.shape).toEqual([8, 3, 3, 3]);
      expect([...r.keys()].filter((k) => !k.endsWith("num_batches_tracked"))).toEqual([
        ...rn.stateDict().keys(),
      ]);
      const v = readSafetensors(exportSafetensors(vit, { input: cifar })).tensors;
      expect(v.get("block0.attn.qkv.weight")?.shape).toEqual([48, 16]);
      expect(v.get("pos_embed")?.shape).toEqual([1, 17, 16]);
      const same = readSafetensors(exportSafetensors(vit, { input: cifar, layout: "selfsup" })).tensors;
      expect(same.get("block0.attn.qkv.weight")?.shape).toEqual([16, 48]);
      expect(Array.from((same.get("block0.fc1.bias")?.data ?? []) as Float32Array)).toEqual(
        Array.from(vit.blocks[0]?.fc1.bias?.dataSync() ?? []),
      );
    } finally {
      rn.dispose();
      vit.dispose();
    }
    expect(tf.memory().numTensors).toBeGreaterThanOrEqual(0);
  });
});
