import { beforeAll, describe, expect, it } from "vitest";
import { ConvNet, convNetBackbone } from "../../src/nn/backbones/convnet.js";
import { type LSTMEncoder, lstmBackbone } from "../../src/nn/backbones/lstm.js";
import { type ResNet, resNet18Backbone } from "../../src/nn/backbones/resnet.js";
import { type TextTransformer, textTransformerBackbone } from "../../src/nn/backbones/text-transformer.js";
import { type ViT, vitTinyBackbone } from "../../src/nn/backbones/vit.js";
import { builtinBackbones } from "../../src/nn/builtins.js";
import type { FeatureModule } from "../../src/nn/module.js";
import type { BackboneSpec, InputSpec } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { expectGradientsEverywhere, maxAbsDiff, randomIds, randomTensor, useBackend } from "./helpers.js";

beforeAll(async () => {
  await useBackend("cpu");
});

const digits: InputSpec = { kind: "image", height: 28, width: 28, channels: 1 };
const small: InputSpec = { kind: "image", height: 16, width: 16, channels: 3 };
const text: InputSpec = { kind: "text", vocabSize: 50, seqLen: 12 };

function build(
  spec: BackboneSpec,
  options: Record<string, unknown>,
  input: InputSpec,
  seed = 1,
): FeatureModule {
  return spec.build(spec.options.parse(options), input, new Rng(seed));
}

describe("builtin backbones", () => {
  it("registers convnet, resnet18, vit-tiny, lstm and text-transformer with described, defaulted options", () => {
    expect(builtinBackbones.map((b) => b.name)).toEqual([
      "convnet",
      "resnet18",
      "vit-tiny",
      "lstm",
      "text-transformer",
    ]);
    for (const b of builtinBackbones) {
      expect(b.description.length).toBeGreaterThan(10);
      expect(() => b.options.parse({})).not.toThrow();
    }
    expect(convNetBackbone.options.parse({})).toEqual({
      width: 32,
      strides: [2, 2, 2],
      pool: "avg",
      grid: 1,
    });
    expect(vitTinyBackbone.options.parse({})).toMatchObject({
      patchSize: 4,
      dim: 64,
      depth: 4,
      heads: 4,
      maskMode: "remove",
    });
    expect(() => resNet18Backbone.options.parse({ width: 0 })).toThrow();
  });

  it("refuses the wrong kind of input with a message naming the backbone", () => {
    expect(() => build(convNetBackbone, {}, text)).toThrow(/"convnet" encodes images/);
    expect(() => build(lstmBackbone, {}, digits)).toThrow(/"lstm" encodes token sequences/);
  });
});

describe("convnet", () => {
  it("maps 28x28 digits to [B, 128] with 92,896 parameters by default", () => {
    const net = build(convNetBackbone, {}, digits);
    expect(net).toBeInstanceOf(ConvNet);
    expect(net.outputDim).toBe(128);
    // conv 3x3: 1->32, 32->64, 64->128 (no bias) + BN scale/shift per channel
    expect(net.parameterCount()).toBe(9 * 32 + 9 * 32 * 64 + 9 * 64 * 128 + 2 * (32 + 64 + 128));
    expect(net.forward(randomTensor([2, 28, 28, 1], 1, 0, 1)).shape).toEqual([2, 128]);
  });

  it("follows width and strides; gradients reach every parameter", () => {
    const net = build(convNetBackbone, { width: 4, strides: [2, 2] }, small);
    expect(net.outputDim).toBe(8);
    const x = randomTensor([3, 16, 16, 3], 2, 0, 1);
    expect(net.forward(x).shape).toEqual([3, 8]);
    expectGradientsEverywhere(net, () => net.forward(x));
  });

  it("rejects images with the wrong channel count", () => {
    const net = build(convNetBackbone, { width: 4 }, digits);
    expect(() => net.forward(tf.zeros([2, 28, 28, 3]))).toThrow(/\[B, H, W, 1\]/);
  });
});

/** Parameters of the CIFAR ResNet-18 counted from the architecture, independently of the code. */
function resnet18Params(inChannels: number, widths: number[]): number {
  const conv = (k: number, i: number, o: number) => k * k * i * o;
  const bn = (c: number) => 2 * c;
  let n = conv(3, inChannels, widths[0]!) + bn(widths[0]!);
  let inC = widths[0]!;
  for (const [stage, c] of widths.entries()) {
    for (let block = 0; block < 2; block++) {
      n += conv(3, inC, c) + bn(c) + conv(3, c, c) + bn(c);
      if (inC !== c || (stage > 0 && block === 0)) n += conv(1, inC, c) + bn(c);
      inC = c;
    }
  }
  return n;
}

describe("resnet18", () => {
  it("has 11,168,832 parameters at width 1 on RGB (torchvision's 11,689,512 minus fc, with the CIFAR stem)", () => {
    const net = build(resNet18Backbone, {}, { kind: "image", height: 32, width: 32, channels: 3 });
    expect(net.parameterCount()).toBe(11_168_832);
    expect(resnet18Params(3, [64, 128, 256, 512])).toBe(11_168_832);
    expect(net.outputDim).toBe(512);
    expect(net.namedBuffers().length).toBe(2 * (1 + 8 * 2 + 3));
    net.dispose();
  });

  it("scales with width, keeps a stride-1 stem, and passes gradients everywhere", () => {
    const net = build(resNet18Backbone, { width: 0.125 }, small) as ResNet;
    expect(net.parameterCount()).toBe(resnet18Params(3, [8, 16, 32, 64]));
    expect(net.outputDim).toBe(64);
    expect(net.stem.stride).toBe(1);
    expect(net.stem.kernelSize).toBe(3);
    const x = randomTensor([2, 16, 16, 3], 3, 0, 1);
    expect(net.forward(x).shape).toEqual([2, 64]);
    expectGradientsEverywhere(net, () => net.forward(x));
  });

  it("zeroInitResidual starts every residual branch at zero", () => {
    const net = build(resNet18Backbone, { width: 0.125, zeroInitResidual: true }, small) as ResNet;
    for (const block of net.blocks) expect(Math.max(...block.bn2.weight!.dataSync())).toBe(0);
  });
});

describe("vit-tiny", () => {
  const opts = { dim: 16, depth: 2, heads: 2 };

  it("exposes its geometry and maps images to the class feature [B, dim]", () => {
    const vit = build(vitTinyBackbone, opts, small) as ViT;
    expect([vit.patchSize, vit.numPatches, vit.dim, vit.outputDim]).toEqual([4, 16, 16, 16]);
    const x = randomTensor([2, 16, 16, 3], 4, 0, 1);
    expect(vit.forward(x).shape).toEqual([2, 16]);
    expect(vit.forward(x, { tokens: true }).shape).toEqual([2, 17, 16]);
    const digitsVit = build(vitTinyBackbone, {}, digits) as ViT;
    expect(digitsVit.numPatches).toBe(49);
  });

  it("pools patch tokens as asked: mean / max over a grid of the patch map, or all of them flattened", () => {
    const x = randomTensor([2, 16, 16, 3], 7, 0, 1);
    const base = build(vitTinyBackbone, opts, small) as ViT;
    base.eval();
    const tokens = base.forward(x, { tokens: true }).arraySync() as number[][][]; // [2, 17, 16]
    const same = (o: Record<string, unknown>) => {
      const v = build(vitTinyBackbone, { ...opts, ...o }, small) as ViT; // same seed: same weights
      v.eval();
      return v;
    };
    const flat = same({ pool: "flatten" });
    expect(flat.outputDim).toBe(16 * 16);
    const f = flat.forward(x).arraySync() as number[][];
    expect(f[1]![5 * 16 + 3]).toBeCloseTo(tokens[1]![1 + 5]![3]!, 5);
    const max2 = same({ pool: "max", grid: 2 });
    expect(max2.outputDim).toBe(16 * 4);
    const m = max2.forward(x).arraySync() as number[][];
    // cell (1, 0) of the 4x4 patch map: patch rows 2-3, columns 0-1
    const cell = [8, 9, 12, 13].map((j) => tokens[0]![1 + j]![6]!);
    expect(m[0]![(1 * 2 + 0) * 16 + 6]).toBeCloseTo(Math.max(...cell), 5);
    const mean = same({ pool: "mean" });
    expect(mean.outputDim).toBe(16);
    const avg = mean.forward(x).arraySync() as number[][];
    const col = tokens[1]!.slice(1).map((t) => t[2]!);
    expect(avg[1]![2]).toBeCloseTo(col.reduce((a, v) => a + v, 0) / 16, 5);
    // a masked (MAE) forward has no full map to flatten
    const mask = tf.tensor2d([
      Array.from({ length: 16 }, (_, i) => (i < 8 ? 1 : 0)),
      Array.from({ length: 16 }, (_, i) => (i < 8 ? 0 : 1)),
    ]);
    expect(() => flat.forward(x, { mask })).toThrow(/pool "flatten" needs every patch, got 8 of 16/);
    expect(mean.forward(x, { mask }).shape).toEqual([2, 16]);
  });

  it("embeds patches exactly like a conv with kernel = stride = patch size", () => {
    const vit = build(vitTinyBackbone, opts, small) as ViT;
    const x = randomTensor([2, 16, 16, 3], 5, 0, 1);
    const ours = vit.patchEmbed.forward(vit.patchify(x));
    const filter = tf.reshape(vit.patchEmbed.weight, [4, 4, 3, 16]) as tf.Tensor4D;
    const conv = tf.add(tf.conv2d(x as tf.Tensor4D, filter, 4, "valid"), vit.patchEmbed.bias!);
    expect(maxAbsDiff(ours, tf.reshape(conv, [2, 16, 16]))).toBeLessThan(1e-5);
  });

  it("removes masked patches (MAE): 1 + visible tokens, and masked pixels have no influence", () => {
    const vit = build(vitTinyBackbone, opts, small) as ViT;
    const x = randomTensor([2, 16, 16, 3], 6, 0, 1);
    const maskRows = [
      Array.from({ length: 16 }, (_, i) => (i % 4 === 0 ? 0 : 1)),
      Array.from({ length: 16 }, (_, i) => (i < 12 ? 1 : 0)),
    ];
    const mask = tf.tensor2d(maskRows);
    const tokens = vit.forward(x, { mask, tokens: true });
    expect(tokens.shape).toEqual([2, 1 + 4, 16]);
    expect(vit.forward(x, { mask }).shape).toEqual([2, 16]);
    // Changing a masked patch's pixels changes nothing.
    const x2 = tf.tidy(() => {
      const v = x.arraySync() as number[][][][];
      v[0]![0]![4]![0] = 9; // row 0, patch column 1 of sample 0: masked (i = 1)
      return tf.tensor4d(v);
    });
    expect(maxAbsDiff(vit.forward(x2, { mask, tokens: true }), tokens)).toBe(0);
    expectGradientsEverywhere(vit, () => vit.forward(x, { mask }));
  });

  it("keeps the visible tokens in ascending patch order", () => {
    const vit = build(vitTinyBackbone, opts, small) as ViT;
    // Zero the output projections of every block: the blocks become identities.
    for (const block of vit.blocks) {
      for (const v of [block.attn.proj.weight, block.attn.proj.bias!, block.fc2.weight, block.fc2.bias!]) {
        v.assign(tf.zerosLike(v));
      }
    }
    const x = randomTensor([2, 16, 16, 3], 10, 0, 1);
    const visible = [
      [0, 5, 6, 15],
      [2, 3, 8, 9],
    ];
    const mask = tf.tensor2d(
      visible.map((row) => Array.from({ length: 16 }, (_, j) => (row.includes(j) ? 0 : 1))),
    );
    const all = vit.forward(x, { tokens: true }).arraySync() as number[][][];
    const kept = vit.forward(x, { mask, tokens: true }).arraySync() as number[][][];
    for (let i = 0; i < 2; i++) {
      const expected = [all[i]![0]!, ...visible[i]!.map((j) => all[i]![1 + j]!)];
      expect(maxAbsDiff(tf.tensor2d(kept[i]!), tf.tensor2d(expected))).toBeLessThan(1e-5);
    }
  });

  it("refuses masks with different counts per sample in remove mode", () => {
    const vit = build(vitTinyBackbone, opts, small);
    const mask = tf.tensor2d([
      Array(16)
        .fill(0)
        .map((_, i) => (i < 8 ? 1 : 0)),
      Array(16)
        .fill(0)
        .map((_, i) => (i < 4 ? 1 : 0)),
    ]);
    expect(() => vit.forward(randomTensor([2, 16, 16, 3], 7), { mask })).toThrow(
      /same number of masked patches.*\[8, 12\]/,
    );
    expect(() => vit.forward(randomTensor([2, 16, 16, 3], 7), { mask: tf.ones([2, 15]) })).toThrow(
      /\[2, 16\]/,
    );
  });

  it("replaces masked patches by a learned mask token in token mode (SimMIM), keeping N tokens", () => {
    const vit = build(vitTinyBackbone, { ...opts, maskMode: "token" }, small) as ViT;
    expect(vit.maskToken).toBeDefined();
    const x = randomTensor([2, 16, 16, 3], 8, 0, 1);
    const mask = tf.tensor2d([
      Array(16)
        .fill(0)
        .map((_, i) => i % 2),
      Array(16)
        .fill(0)
        .map((_, i) => (i < 3 ? 1 : 0)),
    ]);
    const tokens = vit.forward(x, { mask, tokens: true });
    expect(tokens.shape).toEqual([2, 17, 16]);
    expect(maxAbsDiff(tokens, vit.forward(x, { tokens: true }))).toBeGreaterThan(1e-3);
    expectGradientsEverywhere(vit, () => vit.forward(x, { mask, tokens: true }));
  });

  it("refuses a patch size that does not divide the image, naming the ones that do", () => {
    expect(() => build(vitTinyBackbone, { patchSize: 5 }, digits)).toThrow(
      /patchSize 5 must divide.*1, 2, 4, 7, 14, 28/,
    );
  });

  it("mean pooling averages the patch tokens", () => {
    const vit = build(vitTinyBackbone, { ...opts, pool: "mean" }, small);
    const x = randomTensor([2, 16, 16, 3], 9, 0, 1);
    const tokens = vit.forward(x, { tokens: true });
    expect(maxAbsDiff(vit.forward(x), tf.mean(tf.slice(tokens, [0, 1, 0], [2, 16, 16]), 1))).toBeLessThan(
      1e-6,
    );
  });
});

describe("lstm", () => {
  it("encodes [B, T] ids to [B, hidden], and per-token states with tokens: true", () => {
    const enc = build(lstmBackbone, { embedDim: 8, hiddenDim: 6 }, text) as LSTMEncoder;
    const ids = randomIds([3, 12], 50, 1);
    expect(enc.outputDim).toBe(6);
    expect(enc.forward(ids).shape).toEqual([3, 6]);
    expect(enc.forward(ids, { tokens: true }).shape).toEqual([3, 12, 6]);
    expectGradientsEverywhere(enc, () => enc.forward(ids));
  });

  it("mean pooling with a padding id ignores the padding", () => {
    const enc = build(lstmBackbone, { embedDim: 8, hiddenDim: 6, pool: "mean", padId: 0 }, text);
    const a = tf.tensor2d([[5, 6, 7, 0, 0]], [1, 5], "int32");
    const b = tf.tensor2d([[5, 6, 7, 0, 0, 0, 0]], [1, 7], "int32");
    const c = tf.tensor2d([[5, 6, 7]], [1, 3], "int32");
    expect(maxAbsDiff(enc.forward(a), enc.forward(c))).toBeLessThan(1e-6);
    expect(maxAbsDiff(enc.forward(b), enc.forward(c))).toBeLessThan(1e-6);
    const last = build(lstmBackbone, { embedDim: 8, hiddenDim: 6, padId: 0 }, text);
    expect(maxAbsDiff(last.forward(a), last.forward(c))).toBeLessThan(1e-6);
  });

  it("refuses float inputs and sequences longer than the spec", () => {
    const enc = build(lstmBackbone, {}, text);
    expect(() => enc.forward(tf.zeros([2, 4]))).toThrow(/int32 token ids/);
    expect(() => enc.forward(randomIds([1, 13], 50, 2))).toThrow(/at most 12 tokens/);
  });
});

describe("text-transformer", () => {
  const opts = { dim: 16, depth: 2, heads: 2 };

  it("gives [B, dim] pooled features and [B, T, dim] per-token features", () => {
    for (const pool of ["mean", "cls"] as const) {
      const enc = build(textTransformerBackbone, { ...opts, pool }, text) as TextTransformer;
      const ids = randomIds([2, 12], 50, 3);
      expect(enc.forward(ids).shape).toEqual([2, 16]);
      expect(enc.forward(ids, { tokens: true }).shape).toEqual([2, 12, 16]);
      expect(enc.forward(randomIds([2, 7], 50, 4)).shape).toEqual([2, 16]);
    }
  });

  it("replaces masked positions by the learned mask embedding (MLM) and trains every parameter", () => {
    const enc = build(textTransformerBackbone, { ...opts, pool: "cls" }, text);
    const ids = randomIds([2, 12], 50, 5);
    const mask = tf.tensor2d([
      Array(12)
        .fill(0)
        .map((_, i) => (i % 3 === 0 ? 1 : 0)),
      Array(12)
        .fill(0)
        .map((_, i) => (i === 5 ? 1 : 0)),
    ]);
    expect(
      maxAbsDiff(enc.forward(ids, { mask, tokens: true }), enc.forward(ids, { tokens: true })),
    ).toBeGreaterThan(1e-3);
    expectGradientsEverywhere(enc, () => enc.forward(ids, { mask, tokens: true }));
  });

  it("with a padding id, padding changes neither the pooled feature nor the real tokens", () => {
    const enc = build(textTransformerBackbone, { ...opts, padId: 0 }, text);
    const a = tf.tensor2d([[5, 6, 7, 8, 0, 0]], [1, 6], "int32");
    const b = tf.tensor2d([[5, 6, 7, 8, 0, 0, 0, 0, 0]], [1, 9], "int32");
    expect(maxAbsDiff(enc.forward(a), enc.forward(b))).toBeLessThan(1e-5);
    const ta = tf.slice(enc.forward(a, { tokens: true }), [0, 0, 0], [1, 4, 16]);
    const tb = tf.slice(enc.forward(b, { tokens: true }), [0, 0, 0], [1, 4, 16]);
    expect(maxAbsDiff(ta, tb)).toBeLessThan(1e-5);
  });
});
