/**
 * selfsup's other wasm kernels against the cpu backend: depthwise convolution gradients,
 * UnsortedSegmentSum (the gradient of gather), Einsum, and the BatchMatMul wrapper (transposed,
 * batched and broadcast operands, above and below its small-product threshold).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { MIN_FAST_MACS } from "../../src/backend/wasm-kernels/batch-mat-mul.js";
import { expectWasmMatchesCpu, rand, relError, setupBackends, tf } from "./helpers.js";

describe("wasm depthwise convolution gradients match the cpu backend", () => {
  beforeAll(setupBackends);
  const cases: Array<{
    x: [number, number, number, number];
    k: number;
    m: number;
    s: number;
    pad: "same" | "valid";
  }> = [
    { x: [2, 8, 8, 3], k: 3, m: 1, s: 1, pad: "same" },
    { x: [1, 9, 9, 2], k: 3, m: 2, s: 2, pad: "same" },
    { x: [3, 9, 7, 4], k: 3, m: 1, s: 2, pad: "valid" },
    { x: [2, 5, 5, 3], k: 2, m: 3, s: 1, pad: "valid" },
  ];
  cases.forEach((c, i) => {
    const label = JSON.stringify(c);
    it(`filter and input gradients ${label}`, async () => {
      const fs: [number, number, number, number] = [c.k, c.k, c.x[3], c.m];
      const info = tf.backend_util.computeConv2DInfo(c.x, fs, c.s, 1, c.pad, undefined, true);
      await expectWasmMatchesCpu(
        () => [
          tf
            .engine()
            .runKernel(
              "DepthwiseConv2dNativeBackpropFilter",
              { x: rand(c.x, i), dy: rand(info.outShape, i + 10) },
              { strides: c.s, dilations: 1, pad: c.pad, filterShape: fs },
            ) as tf.Tensor,
          tf
            .engine()
            .runKernel(
              "DepthwiseConv2dNativeBackpropInput",
              { dy: rand(info.outShape, i + 20), filter: rand(fs, i + 30) },
              { strides: c.s, dilations: 1, pad: c.pad, inputShape: c.x },
            ) as tf.Tensor,
        ],
        1e-4,
        label,
      );
      await expectWasmMatchesCpu(
        () =>
          tf.grads((x: tf.Tensor, w: tf.Tensor) =>
            tf.sum(tf.square(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.s, c.pad))),
          )([rand(c.x, i + 40), rand(fs, i + 50)]),
        1e-4,
        `grads ${label}`,
      );
    });
  });
});

describe("wasm MaxPoolGrad matches the cpu backend (tfjs-backend-wasm's own is wrong)", () => {
  beforeAll(setupBackends);
  const cases: Array<{ x: number[]; f: number; s: number; pad: "same" | "valid" }> = [
    { x: [2, 8, 8, 3], f: 2, s: 2, pad: "valid" },
    { x: [1, 9, 9, 2], f: 3, s: 2, pad: "same" },
    { x: [2, 7, 5, 4], f: 3, s: 1, pad: "same" },
    { x: [1, 6, 6, 1], f: 2, s: 2, pad: "valid" },
  ];
  for (const c of cases) {
    it(JSON.stringify(c), async () => {
      // All values negative: the upstream kernel sends every gradient to each window's first pixel.
      const negative = () => [tf.sub(tf.abs(rand(c.x, 3)), 2)];
      for (const inputs of [() => [rand(c.x, 1)], negative]) {
        await expectWasmMatchesCpu(
          () =>
            tf.grads((x: tf.Tensor) =>
              tf.sum(
                tf.mul(
                  tf.maxPool(x as tf.Tensor4D, c.f, c.s, c.pad),
                  rand(tf.maxPool(x as tf.Tensor4D, c.f, c.s, c.pad).shape, 2),
                ),
              ),
            )(inputs()),
          1e-5,
          JSON.stringify(c),
        );
      }
    });
  }
});

describe("wasm MaxPool3D and MaxPool3DGrad match the cpu backend (same upstream bug)", () => {
  beforeAll(setupBackends);
  for (const c of [
    { x: [1, 4, 4, 4, 2], f: 2, s: 2, pad: "valid" as const },
    { x: [2, 5, 5, 3, 1], f: 3, s: 2, pad: "same" as const },
  ]) {
    it(JSON.stringify(c), async () => {
      for (const make of [() => rand(c.x, 1), () => tf.sub(tf.abs(rand(c.x, 2)), 2)]) {
        await expectWasmMatchesCpu(
          () => {
            const x = make();
            const pool = (t: tf.Tensor) => tf.maxPool3d(t as tf.Tensor5D, c.f, c.s, c.pad);
            return [pool(x), ...tf.grads((t: tf.Tensor) => tf.sum(tf.square(pool(t))))([x])];
          },
          1e-5,
          JSON.stringify(c),
        );
      }
    });
  }
});

describe("wasm UnsortedSegmentSum matches the cpu backend", () => {
  beforeAll(setupBackends);
  it("float32 rows, with ids out of range dropped", async () => {
    const ids = [0, 3, 3, 1, 5, -1, 0, 2];
    await expectWasmMatchesCpu(
      () => tf.unsortedSegmentSum(rand([8, 3, 2], 1), tf.tensor1d(ids, "int32"), 5),
      1e-5,
      "float32",
    );
  });
  it("int32 values", async () => {
    await expectWasmMatchesCpu(
      () =>
        tf.unsortedSegmentSum(
          tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2], "int32"),
          tf.tensor1d([1, 1, 0], "int32"),
          3,
        ),
      0,
      "int32",
    );
  });
  it("gather gradient (embedding lookup), axis 0 and 1, with repeated indices", async () => {
    await expectWasmMatchesCpu(
      () =>
        tf.grads((table: tf.Tensor) =>
          tf.sum(
            tf.square(
              tf.gather(
                table,
                tf.tensor2d(
                  [
                    [0, 2, 2],
                    [9, 2, 0],
                  ],
                  [2, 3],
                  "int32",
                ),
              ),
            ),
          ),
        )([rand([10, 4], 3)]),
      1e-5,
      "gather axis 0",
    );
    await expectWasmMatchesCpu(
      () =>
        tf.grads((x: tf.Tensor) => tf.sum(tf.square(tf.gather(x, tf.tensor1d([0, 2, 2, 5], "int32"), 1))))([
          rand([3, 6, 4], 4),
        ]),
      1e-5,
      "gather axis 1",
    );
  });
});

describe("wasm Einsum matches the cpu backend", () => {
  beforeAll(setupBackends);
  const cases: Array<[string, number[][]]> = [
    [
      "ij,jk->ik",
      [
        [3, 4],
        [4, 5],
      ],
    ],
    [
      "bij,bjk->bik",
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
    ["i,j->ij", [[3], [4]]],
    ["ij->ji", [[3, 4]]],
    ["ij->j", [[3, 4]]],
    [
      "bhqd,bhkd->bhqk",
      [
        [2, 2, 3, 4],
        [2, 2, 5, 4],
      ],
    ],
  ];
  for (const [eq, shapes] of cases) {
    it(eq, async () => {
      await expectWasmMatchesCpu(() => tf.einsum(eq, ...shapes.map((s, i) => rand(s, i + 1))), 1e-5, eq);
    });
  }
  it("gradients (selfsup's Einsum gradient) equal those of the same product written with matMul/sum", async () => {
    await tf.setBackend("wasm");
    const same = (f: () => tf.Tensor[], g: () => tf.Tensor[]) =>
      tf.tidy(() => {
        const a = f();
        const b = g();
        expect(a.length).toBe(b.length);
        a.forEach((t, i) => {
          expect(t.shape).toEqual(b[i].shape);
          expect(relError(t.dataSync(), b[i].dataSync())).toBeLessThan(1e-5);
        });
      });
    const a = rand([2, 3, 4], 1);
    const b = rand([2, 4, 5], 2);
    const w = rand([2, 3, 5], 3);
    same(
      () =>
        tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.einsum("bij,bjk->bik", x, y), w)))([a, b]),
      () => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), w)))([a, b]),
    );
    const m = rand([3, 4], 4);
    same(
      () => tf.grads((x: tf.Tensor) => tf.sum(tf.square(tf.einsum("ij->j", x))))([m]),
      () => tf.grads((x: tf.Tensor) => tf.sum(tf.square(tf.sum(x, 0))))([m]),
    );
    same(
      () => tf.grads((x: tf.Tensor) => tf.sum(tf.mul(tf.einsum("ij->ji", x), rand([4, 3], 5))))([m]),
      () => tf.grads((x: tf.Tensor) => tf.sum(tf.mul(tf.transpose(x), rand([4, 3], 5))))([m]),
    );
    tf.dispose([a, b, w, m]);
  });
});

describe("wasm BatchMatMul wrapper matches the cpu backend", () => {
  beforeAll(setupBackends);
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[40, 50], [50, 30], false, false],
    [[50, 40], [50, 30], true, false],
    [[40, 50], [30, 50], false, true],
    [[50, 40], [30, 50], true, true],
    [[3, 40, 50], [50, 30], false, false], // dense layer on a sequence: one big matmul
    [[3, 50, 40], [30, 50], true, true],
    [[40, 50], [4, 50, 30], false, false], // broadcast left
    [[4, 40, 50], [4, 30, 50], false, true], // attention scores
    [[2, 2, 50, 40], [2, 2, 50, 30], true, false],
    [[3, 1, 40, 50], [3, 50, 30], false, false], // broadcast to [3, 3]: falls back
    [[1, 7], [7, 1], false, false], // tiny
  ];
  for (const threshold of [0, 1e12]) {
    for (const [as, bs, ta, tb] of cases) {
      const label = `[${as}]${ta ? "^T" : ""} x [${bs}]${tb ? "^T" : ""} (threshold ${threshold})`;
      it(label, async () => {
        const saved = MIN_FAST_MACS.value;
        MIN_FAST_MACS.value = threshold;
        try {
          await expectWasmMatchesCpu(() => tf.matMul(rand(as, 1), rand(bs, 2), ta, tb), 1e-5, label);
        } finally {
          MIN_FAST_MACS.value = saved;
        }
      });
    }
  }
  it("gradients through matMul with a broadcast right-hand side (ViT dense layers)", async () => {
    await expectWasmMatchesCpu(
      () =>
        tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, w))))([
          rand([2, 5, 40], 1),
          rand([40, 30], 2),
        ]),
      1e-5,
      "broadcast grads",
    );
  });
  it("leaves no tensor behind", async () => {
    await tf.setBackend("wasm");
    const a = rand([4, 40, 50], 1);
    const b = rand([4, 30, 50], 2);
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const ids = backend.numDataIds();
    tf.matMul(a, b, false, true).dispose();
    tf.matMul(a, rand([50, 20], 3), false, false).dispose();
    expect(backend.numDataIds()).toBe(ids + 1); // the rand([50, 20]) input
    tf.dispose([a, b]);
  });
});
