/**
 * configureWasmThreads: the threaded tfjs-backend-wasm build starts under Node with 2 XNNPACK
 * threads and computes the same results as the cpu backend (speed is measured by the bench and
 * written down in src/backend/README-wasm.md, not asserted).
 */
import "@tensorflow/tfjs-backend-cpu";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  configureWasmThreads,
  decideWasmThreads,
  WASM_THREADS_MIN_SPEEDUP,
  wasmThreadsCachePath,
  wasmThreadsMachineKey,
} from "../../src/backend/wasm-threads.js";
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

describe("the default thread count (decideWasmThreads)", () => {
  const cores = os.availableParallelism();
  const home = () => mkdtempSync(path.join(tmpdir(), "selfsup-wasm-threads-"));

  it("SELFSUP_WASM_THREADS wins, and a bad value is refused naming the variable", async () => {
    expect(await decideWasmThreads({ env: { SELFSUP_WASM_THREADS: "3" } })).toMatchObject({
      threads: 3,
      source: "env",
    });
    await expect(decideWasmThreads({ env: { SELFSUP_WASM_THREADS: "two" } })).rejects.toThrow(
      /SELFSUP_WASM_THREADS="two" is not a positive integer/,
    );
  });

  it.skipIf(cores < 2)(
    "unmeasured: one thread unless a probe is allowed; a cached probe decides",
    async () => {
      const env = { SELFSUP_HOME: home() };
      expect(await decideWasmThreads({ env })).toMatchObject({ threads: 1, source: "default" });
      const threads = Math.min(cores, 8);
      const cache = (speedup: number) =>
        writeFileSync(
          wasmThreadsCachePath(env),
          JSON.stringify({
            key: wasmThreadsMachineKey(threads),
            threads,
            singleMs: 100 * speedup,
            threadedMs: 100,
            speedup,
            at: new Date().toISOString(),
          }),
        );
      mkdirSync(env.SELFSUP_HOME, { recursive: true });
      cache(1.5);
      expect(await decideWasmThreads({ env })).toMatchObject({ threads, source: "cache" });
      cache(1.05);
      expect(await decideWasmThreads({ env })).toMatchObject({ threads: 1, source: "cache" });
      // Another machine's (or tfjs version's) figures are not used.
      writeFileSync(wasmThreadsCachePath(env), JSON.stringify({ key: "elsewhere", speedup: 9 }));
      expect(await decideWasmThreads({ env })).toMatchObject({ threads: 1, source: "default" });
    },
  );

  it.skipIf(cores < 2)("a probe measures both, caches them and is read back", async () => {
    const env = { SELFSUP_HOME: home() };
    const first = await decideWasmThreads({ env, probe: true });
    expect(first.source).toBe("probe");
    expect(first.probe!.singleMs).toBeGreaterThan(0);
    expect(first.threads).toBe(first.probe!.speedup >= WASM_THREADS_MIN_SPEEDUP ? Math.min(cores, 8) : 1);
    const again = await decideWasmThreads({ env, probe: true });
    expect(again).toMatchObject({ source: "cache", threads: first.threads, probe: first.probe });
  });

  it("a training step gives bit-identical gradients with 1 and 2 threads", async () => {
    const step = () =>
      tf.tidy(() => {
        const f = (x: tf.Tensor, w: tf.Tensor, w2: tf.Tensor, d: tf.Tensor) => {
          const h = tf.relu(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same"));
          const h2 = tf.maxPool(tf.relu(tf.conv2d(h, w2 as tf.Tensor4D, 2, "same")), 2, 2, "valid");
          return tf.sum(tf.square(tf.matMul(tf.reshape(h2, [8, -1]), d as tf.Tensor2D)));
        };
        const xs = [
          rand([8, 16, 16, 4], 11),
          rand([3, 3, 4, 16], 12),
          rand([3, 3, 16, 32], 13),
          rand([32 * 4 * 4, 24], 14),
        ];
        return tf
          .grads(f)(xs)
          .map((g) => Array.from(g.dataSync()));
      });
    await configureWasmThreads(1);
    const one = step();
    await configureWasmThreads(2);
    const two = step();
    await configureWasmThreads(1);
    expect(two).toEqual(one);
  });
});
