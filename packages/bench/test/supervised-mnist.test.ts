import { initBackend, tf } from "@selfsup/core";
import { describe, expect, it } from "vitest";
import { runSupervisedBench } from "../src/supervised.js";

// Runs on wasm with selfsup's training kernels (Conv2DBackpropFilter among them): the pure-JS cpu
// backend needs ~7 s per step of this convnet, far over this test's budget.
await initBackend("wasm");
const wasmTrainsConvs = tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined;

describe("supervised sanity run", () => {
  it("a small convnet learns MNIST digits: > 80% test accuracy after 248 steps on 2,000 digits", async () => {
    expect(wasmTrainsConvs).toBe(true);
    const r = await runSupervisedBench({
      epochs: 4,
      trainLimit: 2000,
      testLimit: 1000,
      width: 16,
      batchSize: 32,
      lr: 5e-3,
      augment: false,
    });
    // chance is 10%; a broken gradient, optimizer or loader stays far below this bound
    expect(r.steps).toBe(248);
    expect(r.accuracy).toBeGreaterThan(0.8);
  });
});
