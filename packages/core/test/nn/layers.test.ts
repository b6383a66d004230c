import { beforeAll, describe, expect, it } from "vitest";
import { GELU, gelu, ReLU } from "../../src/nn/layers/activations.js";
import { MultiHeadSelfAttention } from "../../src/nn/layers/attention.js";
import { Conv2d } from "../../src/nn/layers/conv2d.js";
import { Dropout } from "../../src/nn/layers/dropout.js";
import { Embedding } from "../../src/nn/layers/embedding.js";
import { LayerNorm } from "../../src/nn/layers/layer-norm.js";
import { Linear } from "../../src/nn/layers/linear.js";
import { LSTM } from "../../src/nn/layers/lstm.js";
import { Sequential } from "../../src/nn/layers/sequential.js";
import { TransformerBlock } from "../../src/nn/layers/transformer-block.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";
import { expectGradientsEverywhere, maxAbsDiff, randomTensor, useBackend } from "./helpers.js";

beforeAll(async () => {
  await useBackend("cpu");
});

describe("Linear", () => {
  it("computes x·W + b on [B,D] and on [B,T,D]", () => {
    const lin = new Linear(3, 2, new Rng(1));
    lin.weight.assign(
      tf.tensor2d([
        [1, 0],
        [0, 1],
        [1, 1],
      ]),
    );
    lin.bias!.assign(tf.tensor1d([0.5, -1]));
    expect(Array.from(lin.forward(tf.tensor2d([[1, 2, 3]])).dataSync())).toEqual([4.5, 4]);
    const y = lin.forward(tf.ones([2, 5, 3]));
    expect(y.shape).toEqual([2, 5, 2]);
    expect(Array.from(y.dataSync().slice(0, 2))).toEqual([2.5, 1]);
  });

  it("initialises like PyTorch by default: weight and bias in ±1/√fan_in", () => {
    const lin = new Linear(64, 32, new Rng(2));
    const bound = 1 / 8;
    const w = lin.weight.dataSync();
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    expect(Math.max(...lin.bias!.dataSync().map(Math.abs))).toBeLessThanOrEqual(bound);
  });

  it("xavier init uses ±√(6/(in+out)) and a zero bias; no bias when asked", () => {
    const lin = new Linear(10, 14, new Rng(3), { init: "xavier" });
    expect(Math.max(...lin.weight.dataSync().map(Math.abs))).toBeLessThanOrEqual(0.5);
    expect(Array.from(lin.bias!.dataSync()).every((v) => v === 0)).toBe(true);
    const nb = new Linear(4, 4, new Rng(3), { bias: false });
    expect(nb.namedParameters().map((p) => p.name)).toEqual(["weight"]);
  });

  it("rejects a wrong input width with the expected one in the message", () => {
    expect(() => new Linear(3, 2, new Rng(1)).forward(tf.ones([2, 4]))).toThrow(/last dimension 3/);
  });
});

describe("Conv2d", () => {
  it("gives same/valid output sizes with strides", () => {
    const x = tf.ones([2, 9, 9, 3]);
    expect(new Conv2d(3, 5, new Rng(1)).forward(x).shape).toEqual([2, 9, 9, 5]);
    expect(new Conv2d(3, 5, new Rng(1), { stride: 2 }).forward(x).shape).toEqual([2, 5, 5, 5]);
    expect(new Conv2d(3, 5, new Rng(1), { padding: "valid" }).forward(x).shape).toEqual([2, 7, 7, 5]);
    expect(
      new Conv2d(3, 5, new Rng(1), { kernelSize: 1, stride: 2, padding: "valid" }).forward(x).shape,
    ).toEqual([2, 5, 5, 5]);
  });

  it("equals tf.conv2d plus bias", () => {
    const conv = new Conv2d(2, 3, new Rng(4), { stride: 2 });
    const x = randomTensor([2, 6, 6, 2], 5);
    const expected = tf.add(tf.conv2d(x as tf.Tensor4D, conv.weight as tf.Tensor4D, 2, "same"), conv.bias!);
    expect(maxAbsDiff(conv.forward(x), expected)).toBeLessThan(1e-6);
  });

  it("kaiming-normal init has std ≈ √(2/fan_out)", () => {
    const conv = new Conv2d(16, 32, new Rng(6), { init: "kaiming-normal", bias: false });
    const { variance } = tf.moments(conv.weight);
    expect(Math.sqrt(variance.dataSync()[0] as number)).toBeCloseTo(Math.sqrt(2 / (9 * 32)), 2);
    expect(conv.bias).toBeUndefined();
  });

  it("rejects non-NHWC input", () => {
    expect(() => new Conv2d(3, 4, new Rng(1)).forward(tf.ones([2, 3, 8, 8]))).toThrow(/NHWC/);
  });
});

describe("LayerNorm", () => {
  it("normalises each token over its features, whatever the batch", () => {
    const ln = new LayerNorm(6);
    const y = ln.forward(randomTensor([2, 3, 6], 7, 3, 9));
    const { mean, variance } = tf.moments(y, -1);
    for (const m of mean.dataSync()) expect(m).toBeCloseTo(0, 5);
    for (const v of variance.dataSync()) expect(v).toBeCloseTo(1, 3);
    expect(ln.forward(randomTensor([1, 6], 8)).shape).toEqual([1, 6]);
    expect(ln.namedParameters().every((p) => !p.decay)).toBe(true);
  });
});

describe("Embedding", () => {
  it("gathers rows by id, keeping the id shape", () => {
    const emb = new Embedding(5, 3, new Rng(1));
    const ids = tf.tensor2d(
      [
        [0, 4],
        [2, 2],
      ],
      [2, 2],
      "int32",
    );
    const y = emb.forward(ids);
    expect(y.shape).toEqual([2, 2, 3]);
    const w = emb.weight.arraySync() as number[][];
    const out = y.arraySync() as number[][][];
    expect(out[0]?.[1]).toEqual(w[4]);
    expect(out[1]?.[0]).toEqual(w[2]);
  });

  it("refuses ids outside the table and float ids", () => {
    const emb = new Embedding(5, 3, new Rng(1));
    expect(() => emb.forward(tf.tensor1d([1, 5], "int32"))).toThrow(/5 rows got ids in \[1, 5\]/);
    expect(() => emb.forward(tf.tensor1d([1, 2]))).toThrow(/int32/);
  });
});

describe("activations", () => {
  it("gelu is the tanh approximation", () => {
    const y = gelu(tf.tensor1d([-2, 0, 1, 3])).dataSync();
    const ref = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    for (const [i, x] of [-2, 0, 1, 3].entries()) expect(y[i]).toBeCloseTo(ref(x), 6);
    expect(y[2]).toBeCloseTo(0.8412, 4);
    expect(Array.from(new ReLU().forward(tf.tensor1d([-1, 2])).dataSync())).toEqual([0, 2]);
    expect(new GELU().forward(tf.zeros([2])).shape).toEqual([2]);
  });
});

describe("Dropout", () => {
  it("is the identity in eval mode and with p = 0", () => {
    const x = tf.ones([4, 4]);
    expect(new Dropout(0.5, new Rng(1)).eval().forward(x)).toBe(x);
    expect(new Dropout(0, new Rng(1)).forward(x)).toBe(x);
  });

  it("zeroes about p of the values, scales the rest by 1/(1-p), and repeats with the same seed", () => {
    const x = tf.ones([100, 100]);
    const a = new Dropout(0.25, new Rng(5)).forward(x).dataSync();
    const b = new Dropout(0.25, new Rng(5)).forward(x).dataSync();
    const c = new Dropout(0.25, new Rng(6)).forward(x).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const zeros = a.filter((v) => v === 0).length / a.length;
    expect(zeros).toBeGreaterThan(0.22);
    expect(zeros).toBeLessThan(0.28);
    expect(a.filter((v) => v !== 0).every((v) => Math.abs(v - 4 / 3) < 1e-6)).toBe(true);
  });

  it("refuses p outside [0, 1)", () => {
    expect(() => new Dropout(1, new Rng(1))).toThrow(/\[0, 1\)/);
  });
});

describe("MultiHeadSelfAttention", () => {
  it("maps [B,T,D] to [B,T,D] and needs dim divisible by heads", () => {
    const attn = new MultiHeadSelfAttention(8, 2, new Rng(1));
    expect(attn.forward(randomTensor([3, 5, 8], 2)).shape).toEqual([3, 5, 8]);
    expect(() => new MultiHeadSelfAttention(8, 3, new Rng(1))).toThrow(/divisible/);
  });

  it("is permutation-equivariant over tokens (no position information of its own)", () => {
    const attn = new MultiHeadSelfAttention(8, 2, new Rng(1));
    const x = randomTensor([1, 4, 8], 3);
    const perm = tf.tensor1d([2, 0, 3, 1], "int32");
    const a = tf.gather(attn.forward(x), perm, 1);
    const b = attn.forward(tf.gather(x, perm, 1));
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
  });

  it("ignores masked keys: changing a padded token does not change the others", () => {
    const attn = new MultiHeadSelfAttention(8, 4, new Rng(1));
    const x = randomTensor([1, 4, 8], 4);
    const x2 = tf.concat([tf.slice(x, [0, 0, 0], [1, 3, 8]), randomTensor([1, 1, 8], 5, -5, 5)], 1);
    const mask = tf.tensor2d([[0, 0, 0, 1]]);
    const a = tf.slice(attn.forward(x, { mask }), [0, 0, 0], [1, 3, 8]);
    const b = tf.slice(attn.forward(x2, { mask }), [0, 0, 0], [1, 3, 8]);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    const c = tf.slice(attn.forward(x2), [0, 0, 0], [1, 3, 8]);
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
  });
});

describe("TransformerBlock", () => {
  it("keeps [B,T,D], has the pre-norm parts, and passes gradients to all of them", () => {
    const block = new TransformerBlock(8, 2, new Rng(1));
    const x = randomTensor([2, 3, 8], 6);
    expect(block.forward(x).shape).toEqual([2, 3, 8]);
    expect(block.namedParameters().map((p) => p.name)).toEqual([
      "norm1.weight",
      "norm1.bias",
      "attn.qkv.weight",
      "attn.qkv.bias",
      "attn.proj.weight",
      "attn.proj.bias",
      "norm2.weight",
      "norm2.bias",
      "fc1.weight",
      "fc1.bias",
      "fc2.weight",
      "fc2.bias",
    ]);
    expectGradientsEverywhere(block, () => block.forward(x));
  });
});

describe("LSTM", () => {
  it("returns the last hidden state [B,H] or every state [B,T,H]", () => {
    const lstm = new LSTM(3, 5, new Rng(1));
    const x = randomTensor([2, 4, 3], 2);
    const last = lstm.forward(x);
    const all = lstm.forward(x, { tokens: true });
    expect(last.shape).toEqual([2, 5]);
    expect(all.shape).toEqual([2, 4, 5]);
    expect(maxAbsDiff(last, tf.squeeze(tf.slice(all, [0, 3, 0], [2, 1, 5]), [1]))).toBe(0);
    expect(new LSTM(3, 5, new Rng(1), { returnSequences: true }).forward(x).shape).toEqual([2, 4, 5]);
  });

  it("computes one step of the LSTM equations", () => {
    const lstm = new LSTM(2, 1, new Rng(1));
    // gates i, f, g, o for one hidden unit
    lstm.weightIH.assign(
      tf.tensor2d([
        [1, 0, 2, -1],
        [0, 1, 0, 1],
      ]),
    );
    lstm.bias.assign(tf.tensor1d([0, 0, 0, 0]));
    const h = lstm.forward(tf.tensor3d([[[0.5, -0.5]]])).dataSync()[0] as number;
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    const c = s(0.5) * Math.tanh(1); // c_prev = 0
    expect(h).toBeCloseTo(s(-1) * Math.tanh(c), 6);
  });

  it("carries the state through padded steps", () => {
    const lstm = new LSTM(3, 4, new Rng(2));
    const x = randomTensor([1, 3, 3], 3);
    const padded = tf.concat([x, randomTensor([1, 2, 3], 4)], 1);
    const mask = tf.tensor2d([[0, 0, 0, 1, 1]]);
    expect(maxAbsDiff(lstm.forward(x), lstm.forward(padded, { mask }))).toBeLessThan(1e-6);
  });

  it("starts with the forget gate open and passes gradients to all weights", () => {
    const lstm = new LSTM(3, 4, new Rng(3));
    const b = lstm.bias.dataSync();
    const forget = Array.from(b.slice(4, 8));
    expect(forget.every((v) => v > 0.4)).toBe(true);
    expectGradientsEverywhere(lstm, () => lstm.forward(randomTensor([2, 3, 3], 5)));
  });
});

describe("Sequential", () => {
  it("chains modules with PyTorch-style names and clones its children", () => {
    const seq = new Sequential([new Linear(4, 3, new Rng(1)), new ReLU(), new Linear(3, 2, new Rng(2))]);
    expect([...seq.stateDict().keys()]).toEqual(["0.weight", "0.bias", "2.weight", "2.bias"]);
    const x = randomTensor([2, 4], 3);
    expect(seq.forward(x).shape).toEqual([2, 2]);
    const copy = seq.clone();
    expect(maxAbsDiff(seq.forward(x), copy.forward(x))).toBe(0);
    expect(copy.layers[0]).not.toBe(seq.layers[0]);
  });
});
