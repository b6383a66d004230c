/**
 * selfsup's wasm Conv2DBackpropFilter / Conv2DBackpropInput against the cpu backend's kernels:
 * stride 1 and 2 (and 3), same / valid / explicit padding, odd sizes, batch 1 and > 1, and the
 * end-to-end gradients of conv2d through tf.grads.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { CHUNK_K } from "../../src/backend/wasm-kernels/conv2d-backprop-filter.js";
import { expectWasmMatchesCpu, rand, setupBackends, tf } from "./helpers.js";

type Pad = "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]];
interface Case {
  x: [number, number, number, number]; // NHWC
  k: [number, number];
  co: number;
  s: number | [number, number];
  pad: Pad;
}

const CASES: Case[] = [
  { x: [2, 8, 8, 3], k: [3, 3], co: 4, s: 1, pad: "same" },
  { x: [1, 8, 8, 3], k: [3, 3], co: 4, s: 1, pad: "valid" },
  { x: [3, 9, 9, 3], k: [3, 3], co: 5, s: 2, pad: "same" },
  { x: [2, 9, 9, 3], k: [3, 3], co: 5, s: 2, pad: "valid" },
  { x: [2, 10, 10, 4], k: [3, 3], co: 2, s: 2, pad: "valid" }, // even size, valid: last row unread
  { x: [1, 7, 5, 2], k: [3, 2], co: 3, s: [2, 1], pad: "same" }, // odd, non-square, mixed strides
  { x: [2, 11, 9, 3], k: [5, 5], co: 4, s: 3, pad: "same" },
  { x: [2, 6, 6, 4], k: [1, 1], co: 6, s: 2, pad: "valid" }, // 1x1 stride 2 (ResNet shortcut)
  {
    x: [1, 5, 6, 2],
    k: [3, 3],
    co: 3,
    s: 1,
    pad: [
      [0, 0],
      [2, 0],
      [0, 1],
      [0, 0],
    ],
  },
  { x: [4, 16, 16, 8], k: [3, 3], co: 8, s: 1, pad: "same" }, // several row/batch chunks (small CHUNK_K below)
];

function outShape(c: Case): number[] {
  const info = tf.backend_util.computeConv2DInfo(c.x, [c.k[0], c.k[1], c.x[3], c.co], c.s, 1, c.pad);
  return info.outShape;
}

describe("wasm Conv2DBackpropFilter / Conv2DBackpropInput match the cpu backend", () => {
  beforeAll(setupBackends);

  CASES.forEach((c, i) => {
    const name = `x=[${c.x}] k=${c.k.join("x")} co=${c.co} s=${c.s} pad=${JSON.stringify(c.pad)}`;
    it(`filter gradient ${name}`, async () => {
      const fs: [number, number, number, number] = [c.k[0], c.k[1], c.x[3], c.co];
      const run = () =>
        tf
          .engine()
          .runKernel(
            "Conv2DBackpropFilter",
            { x: rand(c.x, 10 + i), dy: rand(outShape(c), 20 + i) },
            { strides: c.s, pad: c.pad, dataFormat: "NHWC", filterShape: fs },
          ) as tf.Tensor;
      await expectWasmMatchesCpu(run, 1e-4, name);
      // Chunked contraction (many row and batch chunks) gives the same result.
      const saved = CHUNK_K.value;
      CHUNK_K.value = 7;
      try {
        await expectWasmMatchesCpu(run, 1e-4, `${name} (chunked)`);
      } finally {
        CHUNK_K.value = saved;
      }
    });
    it(`input gradient ${name}`, async () => {
      const run = () =>
        tf
          .engine()
          .runKernel(
            "Conv2DBackpropInput",
            { dy: rand(outShape(c), 30 + i), filter: rand([c.k[0], c.k[1], c.x[3], c.co], 40 + i) },
            { strides: c.s, pad: c.pad, dataFormat: "NHWC", inputShape: c.x },
          ) as tf.Tensor;
      await expectWasmMatchesCpu(run, 1e-4, name);
    });
  });

  it("NCHW data format", async () => {
    const x: [number, number, number, number] = [2, 3, 7, 7];
    const dyShape = [2, 4, 4, 4];
    await expectWasmMatchesCpu(
      () =>
        tf
          .engine()
          .runKernel(
            "Conv2DBackpropFilter",
            { x: rand(x, 1), dy: rand(dyShape, 2) },
            { strides: 2, pad: "same", dataFormat: "NCHW", filterShape: [3, 3, 3, 4] },
          ) as tf.Tensor,
      1e-4,
      "filter NCHW",
    );
    await expectWasmMatchesCpu(
      () =>
        tf
          .engine()
          .runKernel(
            "Conv2DBackpropInput",
            { dy: rand(dyShape, 3), filter: rand([3, 3, 3, 4], 4) },
            { strides: 2, pad: "same", dataFormat: "NCHW", inputShape: x },
          ) as tf.Tensor,
      1e-4,
      "input NCHW",
    );
  });

  it("random shapes (seeded)", async () => {
    let seed = 1234;
    const next = (lo: number, hi: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return lo + (seed % (hi - lo + 1));
    };
    for (let t = 0; t < 25; t++) {
      const x: [number, number, number, number] = [next(1, 3), next(1, 9), next(1, 9), next(1, 4)];
      const k: [number, number] = [next(1, 4), next(1, 4)];
      const s: [number, number] = [next(1, 3), next(1, 3)];
      const pad: Pad = [
        "same" as const,
        "valid" as const,
        [
          [0, 0],
          [next(0, 2), next(0, 2)],
          [next(0, 2), next(0, 2)],
          [0, 0],
        ] as Pad,
      ][next(0, 2)];
      const co = next(1, 4);
      const c: Case = { x, k, co, s, pad };
      let dy: number[];
      try {
        dy = outShape(c);
      } catch {
        continue;
      }
      if (dy[1] <= 0 || dy[2] <= 0) continue;
      const label = JSON.stringify(c);
      await expectWasmMatchesCpu(
        () => [
          tf
            .engine()
            .runKernel(
              "Conv2DBackpropFilter",
              { x: rand(x, t), dy: rand(dy, t + 100) },
              { strides: s, pad, dataFormat: "NHWC", filterShape: [k[0], k[1], x[3], co] },
            ) as tf.Tensor,
          tf
            .engine()
            .runKernel(
              "Conv2DBackpropInput",
              { dy: rand(dy, t + 200), filter: rand([k[0], k[1], x[3], co], t + 300) },
              { strides: s, pad, dataFormat: "NHWC", inputShape: x },
            ) as tf.Tensor,
        ],
        1e-4,
        label,
      );
    }
  });

  it("tf.grads of conv2d (both inputs) matches the cpu backend", async () => {
    for (const [s, pad] of [
      [1, "same"],
      [2, "same"],
      [2, "valid"],
    ] as const) {
      await expectWasmMatchesCpu(
        () =>
          tf.grads((x: tf.Tensor, w: tf.Tensor) =>
            tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad))),
          )([rand([3, 9, 9, 4], 7), rand([3, 3, 4, 6], 8)]),
        1e-4,
        `grads s=${s} ${pad}`,
      );
    }
  });

  it("leaves no intermediate tensor data behind", async () => {
    await tf.setBackend("wasm");
    const x = rand([2, 9, 9, 3], 1);
    const w = rand([3, 3, 3, 4], 2);
    const before = tf.memory().numTensors;
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const idsBefore = backend.numDataIds();
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same")),
    )([x, w]);
    tf.dispose(g);
    expect(tf.memory().numTensors).toBe(before);
    expect(backend.numDataIds()).toBe(idsBefore);
    tf.dispose([x, w]);
  });
});
