/**
 * Every op that selfsup's backbones and losses need, differentiated with tf.grads on the wasm
 * backend and compared with the cpu backend: a small convnet, ResNet-18, a ViT block, an LSTM,
 * embeddings, and the losses (softmax cross-entropy, InfoNCE-style logSumExp, cosine/l2
 * normalisation, clipping, where, ...). This is the list that found the missing kernels; run it
 * after upgrading tfjs.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  BACKENDS_UNDER_TEST,
  expectMatchesCpu,
  HAS_NATIVE,
  NATIVE_SKIP,
  rand,
  setupBackends,
  tf,
} from "./helpers.js";

type T = tf.Tensor;
const pos = (shape: number[], seed: number) => tf.add(tf.abs(rand(shape, seed)), 0.5);
const ids = (values: number[], shape?: number[]): tf.Tensor1D => {
  const t: tf.Tensor = tf.tensor(values, shape ?? [values.length], "int32");
  return t as tf.Tensor1D; // 2-D ids too: gather takes any rank, the typing says 1-D
};

/** name -> [input factory, function of the inputs]; the test differentiates w.r.t. every input. */
const GRAD_CASES: Record<string, [() => T[], (...xs: T[]) => T]> = {
  // convnet / ResNet
  "conv2d 3x3 s1 same": [
    () => [rand([2, 8, 8, 3], 1), rand([3, 3, 3, 4], 2)],
    (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same"),
  ],
  "conv2d 3x3 s2 same": [
    () => [rand([2, 9, 9, 3], 1), rand([3, 3, 3, 4], 2)],
    (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "same"),
  ],
  "conv2d 1x1 s2 valid (shortcut)": [
    () => [rand([2, 8, 8, 3], 1), rand([1, 1, 3, 4], 2)],
    (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "valid"),
  ],
  "fused conv2d + bias + relu": [
    () => [rand([2, 8, 8, 3], 1), rand([3, 3, 3, 4], 2), rand([4], 3)],
    (x, w, b) =>
      tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: w as tf.Tensor4D,
        bias: b,
        activation: "relu",
        strides: 2,
        pad: "same",
      }),
  ],
  "depthwise conv2d": [
    () => [rand([2, 8, 8, 3], 1), rand([3, 3, 3, 2], 2)],
    (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same"),
  ],
  "separable conv2d": [
    () => [rand([2, 8, 8, 3], 1), rand([3, 3, 3, 1], 2), rand([1, 1, 3, 4], 3)],
    (x, d, p) => tf.separableConv2d(x as tf.Tensor4D, d as tf.Tensor4D, p as tf.Tensor4D, 1, "same"),
  ],
  conv2dTranspose: [
    () => [rand([2, 4, 4, 4], 1), rand([3, 3, 3, 4], 2)],
    (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 8, 8, 3], 2, "same"),
  ],
  conv1d: [
    () => [rand([2, 10, 3], 1), rand([3, 3, 4], 2)],
    (x, w) => tf.conv1d(x as tf.Tensor3D, w as tf.Tensor3D, 1, "same"),
  ],
  relu: [() => [rand([4, 5], 1)], (x) => tf.relu(x)],
  relu6: [() => [tf.mul(rand([4, 5], 1), 8)], (x) => tf.relu6(x)],
  leakyRelu: [() => [rand([4, 5], 1)], (x) => tf.leakyRelu(x, 0.1)],
  elu: [() => [rand([4, 5], 1)], (x) => tf.elu(x)],
  "maxPool 2x2": [() => [rand([2, 8, 8, 3], 1)], (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, "valid")],
  "maxPool 3x3 s2 same": [() => [rand([2, 9, 9, 3], 1)], (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, "same")],
  "avgPool 2x2": [() => [rand([2, 8, 8, 3], 1)], (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, "valid")],
  "batchnorm via moments": [
    () => [rand([4, 4, 4, 3], 1), rand([3], 2), rand([3], 3)],
    (x, g, b) => {
      const m = tf.moments(x, [0, 1, 2]);
      return tf.add(tf.mul(tf.div(tf.sub(x, m.mean), tf.sqrt(tf.add(m.variance, 1e-5))), g), b);
    },
  ],
  "tf.batchNorm": [
    () => [rand([4, 4, 4, 3], 1), rand([3], 2), rand([3], 3)],
    (x, g, b) => {
      const m = tf.moments(x, [0, 1, 2]);
      return tf.batchNorm(x, m.mean, m.variance, b, g, 1e-5);
    },
  ],
  "residual add + global avg pool": [
    () => [rand([2, 4, 4, 3], 1), rand([2, 4, 4, 3], 2)],
    (x, y) => tf.mean(tf.relu(tf.add(x, y)), [1, 2]),
  ],
  "dense (matMul + bias)": [
    () => [rand([3, 4], 1), rand([4, 5], 2), rand([5], 3)],
    (a, b, c) => tf.add(tf.matMul(a, b), c),
  ],
  "fused matMul + bias + relu": [
    () => [rand([3, 4], 1), rand([4, 5], 2), rand([5], 3)],
    (a, b, c) => tf.fused.matMul({ a, b, bias: c, activation: "relu" }),
  ],
  // ViT block
  "matMul transposed": [() => [rand([4, 3], 1), rand([5, 4], 2)], (a, b) => tf.matMul(a, b, true, true)],
  batchMatMul: [() => [rand([2, 3, 4], 1), rand([2, 4, 5], 2)], (a, b) => tf.matMul(a, b)],
  "matMul 3-D x 2-D (broadcast)": [() => [rand([2, 3, 4], 1), rand([4, 5], 2)], (a, b) => tf.matMul(a, b)],
  softmax: [() => [rand([3, 5], 1)], (x) => tf.softmax(x)],
  "layernorm via moments": [
    () => [rand([2, 5, 8], 1), rand([8], 2), rand([8], 3)],
    (x, g, b) => {
      const m = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, m.mean), tf.rsqrt(tf.add(m.variance, 1e-6))), g), b);
    },
  ],
  "gelu (erf)": [
    () => [rand([3, 5], 1)],
    (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))),
  ],
  "gelu (tanh approx)": [
    () => [rand([3, 5], 1)],
    (x) =>
      tf.mul(
        tf.mul(x, 0.5),
        tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))),
      ),
  ],
  "reshape + transpose (heads)": [
    () => [rand([2, 6, 8], 1)],
    (x) => tf.transpose(tf.reshape(x, [2, 6, 2, 4]), [0, 2, 1, 3]),
  ],
  "gather (positional / cls)": [() => [rand([6, 4], 1)], (x) => tf.gather(x, ids([0, 2, 2, 5]))],
  "gather axis 1": [() => [rand([3, 6, 4], 1)], (x) => tf.gather(x, ids([0, 2, 2, 5]), 1)],
  "concat (cls token)": [() => [rand([2, 1, 4], 1), rand([2, 3, 4], 2)], (a, b) => tf.concat([a, b], 1)],
  "slice + stack": [
    () => [rand([4, 6], 1)],
    (x) => tf.stack([tf.slice(x, [0, 0], [2, 3]), tf.slice(x, [2, 3], [2, 3])]),
  ],
  "tile / broadcastTo": [
    () => [rand([1, 3], 1)],
    (x) => tf.add(tf.tile(x, [2, 2]), tf.broadcastTo(tf.slice(x, [0, 0], [1, 1]), [2, 6])),
  ],
  // LSTM
  "lstm cell": [
    () => [rand([2, 3], 1), rand([2, 4], 2), rand([2, 4], 3), rand([7, 16], 4), rand([16], 5)],
    (x, h, c, w, b) => {
      const z = tf.add(tf.matMul(tf.concat([x, h], 1), w), b);
      const [i, f, g, o] = tf.split(z, 4, 1);
      const c2 = tf.add(tf.mul(tf.sigmoid(f), c), tf.mul(tf.sigmoid(i), tf.tanh(g)));
      return tf.mul(tf.sigmoid(o), tf.tanh(c2));
    },
  ],
  "unstack over time": [() => [rand([3, 4], 1)], (x) => tf.mul(tf.unstack(x)[1], tf.unstack(x)[2])],
  // embeddings
  "embedding lookup (2-D ids)": [
    () => [rand([10, 4], 1)],
    (t) => tf.gather(t, ids([0, 2, 9, 2, 0, 1], [2, 3])),
  ],
  // losses
  logSoftmax: [() => [rand([3, 5], 1)], (x) => tf.logSoftmax(x)],
  logSumExp: [() => [rand([3, 5], 1)], (x) => tf.logSumExp(x, 1)],
  "softmax cross-entropy (oneHot)": [
    () => [rand([3, 5], 1)],
    (x) => tf.losses.softmaxCrossEntropy(tf.oneHot(ids([0, 3, 4]), 5), x),
  ],
  "sigmoid cross-entropy": [() => [rand([3, 5], 1)], (x) => tf.losses.sigmoidCrossEntropy(tf.onesLike(x), x)],
  "l2 normalize (norm)": [() => [rand([3, 5], 1)], (x) => tf.div(x, tf.norm(x, "euclidean", 1, true))],
  "l2 normalize (rsqrt/maximum)": [
    () => [rand([3, 5], 1)],
    (x) => tf.mul(x, tf.rsqrt(tf.maximum(tf.sum(tf.square(x), 1, true), 1e-12))),
  ],
  "cosine distance": [() => [rand([3, 5], 1), rand([3, 5], 2)], (a, b) => tf.losses.cosineDistance(a, b, 1)],
  clipByValue: [() => [rand([3, 5], 1)], (x) => tf.clipByValue(x, -0.5, 0.5)],
  "where(greater)": [() => [rand([3, 5], 1), rand([3, 5], 2)], (a, b) => tf.where(tf.greater(a, b), a, b)],
  "where(less) broadcast": [
    () => [rand([3, 5], 1), rand([5], 2)],
    (a, b) => tf.where(tf.less(a, 0), a, tf.mul(b, tf.onesLike(a))),
  ],
  abs: [() => [rand([3, 5], 1)], (x) => tf.abs(x)],
  square: [() => [rand([3, 5], 1)], (x) => tf.square(x)],
  sqrt: [() => [pos([3, 5], 1)], (x) => tf.sqrt(x)],
  "mean over axes": [() => [rand([2, 3, 5], 1)], (x) => tf.mean(x, [0, 2])],
  "sum over axis": [() => [rand([2, 3, 5], 1)], (x) => tf.sum(x, 1)],
  max: [() => [rand([2, 3, 5], 1)], (x) => tf.max(x, 1)],
  maximum: [() => [rand([3, 5], 1), rand([3, 5], 2)], (a, b) => tf.maximum(a, b)],
  minimum: [() => [rand([3, 5], 1), rand([3, 5], 2)], (a, b) => tf.minimum(a, b)],
  "pow / exp / log": [
    () => [pos([3, 5], 1), rand([3, 5], 2)],
    (a, b) => tf.add(tf.pow(a, b), tf.log(tf.add(tf.exp(b), 1))),
  ],
  "div / sub / neg": [() => [rand([3, 5], 1), pos([3, 5], 2)], (a, b) => tf.neg(tf.sub(tf.div(a, b), a))],
  squaredDifference: [() => [rand([3, 5], 1), rand([3, 5], 2)], (a, b) => tf.squaredDifference(a, b)],
  cumsum: [() => [rand([3, 5], 1)], (x) => tf.cumsum(x, 1)],
  "cumsum exclusive reverse": [() => [rand([3, 5], 1)], (x) => tf.cumsum(x, 1, true, true)],
  "pad / mirrorPad": [
    () => [rand([2, 3], 1)],
    (x) =>
      tf.add(
        tf.pad(x, [
          [1, 1],
          [2, 2],
        ]),
        tf.mirrorPad(
          x,
          [
            [1, 1],
            [2, 2],
          ],
          "reflect",
        ),
      ),
  ],
  resizeBilinear: [() => [rand([1, 4, 4, 2], 1)], (x) => tf.image.resizeBilinear(x as tf.Tensor4D, [8, 8])],
  "dropout-style mask": [
    () => [rand([3, 5], 1)],
    (x) => tf.mul(x, tf.cast(tf.greater(rand([3, 5], 9), 0), "float32")),
  ],
  einsum: [() => [rand([2, 3, 4], 1), rand([2, 4, 5], 2)], (a, b) => tf.einsum("bij,bjk->bik", a, b)],
  unsortedSegmentSum: [() => [rand([5, 3], 1)], (x) => tf.unsortedSegmentSum(x, ids([0, 2, 0, 1, 2]), 3)],
  // More inputs than a GPU binds storage buffers (webgpu sums them in chunks).
  "addN of 40 tensors": [
    () => [rand([3, 5], 1), rand([3, 5], 2)],
    (a, b) => tf.addN(Array.from({ length: 40 }, (_, i) => tf.mul(i % 2 === 0 ? a : b, i + 1))),
  ],
};

/** Ops without a gradient that kNN / metrics / data pipelines use, forward only. */
const FORWARD_CASES: Record<string, () => T> = {
  argMax: () => tf.argMax(rand([3, 5], 1), 1),
  "topk (kNN)": () => tf.topk(rand([3, 50], 1), 5).indices,
  "topk values": () => tf.topk(rand([3, 50], 1), 5).values,
  oneHot: () => tf.oneHot(ids([1, 2]), 4),
  // Big enough to run on a GPU rather than be handed to the CPU (webgpu: int32 output fixed).
  "transpose int32 3-D, 1200 values": () =>
    tf.transpose(tf.reshape(ids(Array.from({ length: 1200 }, (_, i) => i * 3 - 7)), [10, 12, 10]), [2, 0, 1]),
  "transpose int32 2-D, 1200 values": () =>
    tf.transpose(tf.reshape(ids(Array.from({ length: 1200 }, (_, i) => i - 600)), [40, 30])),
  "transpose bool, 1200 values": () =>
    tf.transpose(tf.greater(tf.reshape(rand([1200], 5), [30, 4, 10]), 0), [1, 2, 0]),
  "sum int32 over axis 0, 1200 values": () =>
    tf.sum(tf.reshape(ids(Array.from({ length: 1200 }, (_, i) => (i % 13) - 6)), [40, 30]), 0),
  // A cast from int32 shares the int32 buffer on webgpu: the transpose inside the reduction reads it.
  "mean over axis 0 of an int32 one-hot cast to float": () =>
    tf.mean(
      tf.cast(
        tf.reshape(tf.oneHot(ids(Array.from({ length: 1200 }, (_, i) => (i * 7) % 10)), 10), [40, 30, 10]),
        "float32",
      ),
      0,
    ),
  "argMax over axis 0, 1200 values": () => tf.argMax(tf.reshape(rand([1200], 7), [40, 30]), 0),
  "oneHot int32, 1200 indices": () =>
    tf.oneHot(ids(Array.from({ length: 1200 }, (_, i) => (i * 7) % 10)), 10),
  "equal int32": () => tf.equal(ids([1, 2]), ids([1, 3])),
  "cast bool": () => tf.cast(tf.greater(rand([3], 1), 0), "int32"),
  "sum int32": () => tf.sum(tf.ones([3], "int32")),
  "gather int32": () => tf.gather(tf.ones([3, 2], "int32"), ids([0])),
  "cumsum int32": () => tf.cumsum(ids([1, 2, 3])),
  "unsortedSegmentSum int32": () => tf.unsortedSegmentSum(ids([1, 2, 3]), ids([1, 0, 1]), 2),
  "einsum outer": () => tf.einsum("i,j->ij", rand([3], 1), rand([4], 2)),
};

for (const backend of BACKENDS_UNDER_TEST) {
  describe(`${backend}: gradients of every op our models and losses use match the cpu backend`, () => {
    beforeAll(setupBackends);
    for (const [name, [inputs, f]] of Object.entries(GRAD_CASES)) {
      it(name, async () => {
        await expectMatchesCpu(
          backend,
          () => {
            const xs = inputs();
            // Weighted sum, so every output element gets a distinct upstream gradient.
            const loss = (...a: T[]) => {
              const y = f(...a);
              return tf.sum(tf.mul(y, tf.reshape(tf.linspace(0.5, 1.5, y.size), y.shape)));
            };
            return [f(...xs), ...tf.grads(loss)(xs)];
          },
          1e-4,
          name,
        );
      });
    }
    for (const [name, f] of Object.entries(FORWARD_CASES)) {
      it(`${name} (forward)`, async () => {
        await expectMatchesCpu(backend, f, 1e-5, name);
      });
    }
  });
}
describe.skipIf(HAS_NATIVE)(`tensorflow: skipped, ${NATIVE_SKIP}`, () => {
  it.skip("gradients and forward ops on the native backend", () => {});
});

describe("known tfjs limitations (same on every backend, not wasm-specific)", () => {
  beforeAll(setupBackends);
  const limits: Record<string, [() => T[], (...xs: T[]) => T, RegExp]> = {
    "conv2d gradient with dilation > 1": [
      () => [rand([1, 9, 9, 2], 1), rand([3, 3, 2, 3], 2)],
      (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same", "NHWC", 2),
      /dilation rates greater than 1/,
    ],
    "stridedSlice has no gradient": [
      () => [rand([4, 6], 1)],
      (x) => tf.stridedSlice(x, [0, 1], [4, 6], [2, 2]),
      /StridedSlice/,
    ],
    "cumprod has no gradient": [() => [rand([3, 5], 1)], (x) => tf.cumprod(x, 1), /Cumprod/],
  };
  for (const [name, [inputs, f, message]] of Object.entries(limits)) {
    it(name, async () => {
      for (const backend of [...BACKENDS_UNDER_TEST, "cpu"]) {
        await tf.setBackend(backend);
        expect(() => tf.tidy(() => tf.grads((...a: T[]) => tf.sum(f(...a)))(inputs()))).toThrow(message);
      }
    });
  }
});
