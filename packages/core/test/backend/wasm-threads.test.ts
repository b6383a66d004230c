/**
 * configureWasmThreads: the threaded tfjs-backend-wasm build starts under Node with 2 XNNPACK
 * threads and computes the same results as the cpu backend (speed is measured by the bench and
 * written down in src/backend/README-wasm.md, not asserted).
 */
import "@tensorflow/tfjs-backend-cpu";
import { afterAll, describe, expect, it } from "vitest";
import { configureWasmThreads } from "../../src/backend/wasm-threads.js";
import { expectWasmMatchesCpu, rand, tf } from "./helpers.js";

describe("configureWasmThreads", () => {
  afterAll(async () => {
    await configureWasmThreads(1);
  });

  it("runs the threaded build with 2 threads, matching the cpu backend", async () => {
    const r = await configureWasmThreads(2);
    expect(r).toEqual({ requested: 2, threads: 2, build: "threaded-simd" });
    expect(tf.getBackend()).toBe("wasm");
    await expectWasmMatchesCpu(
      () => [
        tf.conv2d(rand([4, 16, 16, 8], 1) as tf.Tensor4D, rand([3, 3, 8, 16], 2) as tf.Tensor4D, 1, "same"),
        tf.matMul(rand([64, 96], 3), rand([96, 80], 4)),
        ...tf.grads((x: tf.Tensor, w: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, "same"))),
        )([rand([4, 9, 9, 8], 5), rand([3, 3, 8, 16], 6)]),
      ],
      1e-4,
      "2 threads",
    );
  });

  it("goes back to the single-threaded SIMD build", async () => {
    const r = await configureWasmThreads(1);
    expect(r).toEqual({ requested: 1, threads: 1, build: "simd" });
    await expectWasmMatchesCpu(() => tf.matMul(rand([32, 48], 1), rand([48, 40], 2)), 1e-5, "1 thread");
  });

  it("refuses a thread count that is not a positive integer", async () => {
    await expect(configureWasmThreads(0)).rejects.toThrow(/positive integer/);
  });
});
