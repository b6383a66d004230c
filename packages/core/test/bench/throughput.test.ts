/**
 * The throughput section's pieces that can be checked cheaply: the analytic FLOP count of the
 * kernels a training step runs, and that `pnpm bench <section>` selects opt-in sections by name.
 */
import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, it } from "vitest";
import { registerTrainingGradients } from "../../src/backend/gradients/index.js";
import { addBenchSection, parseBenchArgs, runBench } from "../../src/bench/main.js";
import { kernelFlops } from "../../src/bench/throughput.js";
import { tf } from "../../src/tf.js";

describe("throughput bench", () => {
  beforeAll(async () => {
    registerTrainingGradients();
    await tf.setBackend("cpu");
  });

  it("counts 2 x multiply-adds of a conv and a dense layer, forward and backward, from tf.profile", async () => {
    const x = tf.ones([2, 8, 8, 3]) as tf.Tensor4D;
    const w = tf.ones([3, 3, 3, 4]) as tf.Tensor4D;
    const d = tf.ones([256, 5]) as tf.Tensor2D;
    const profile = await tf.profile(() =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.matMul(tf.reshape(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same"), [2, 256]), c)),
      )([x, w, d]),
    );
    const flops = profile.kernels.reduce((s, k) => s + kernelFlops(k.name, k.inputShapes, k.outputShapes), 0);
    const conv = 2 * (2 * 8 * 8 * 4) * (3 * 3 * 3); // forward; input and filter gradients the same each
    const dense = 2 * (2 * 5) * 256; // forward; both gradients the same each
    expect(flops).toBe(3 * conv + 3 * dense);
  });

  it("`bench <name>` runs that section; opt-in sections run only when named", async () => {
    expect(parseBenchArgs(["throughput", "--quick"])).toEqual({
      backend: "wasm",
      only: ["throughput"],
      quick: true,
    });
    const ran: string[] = [];
    addBenchSection({
      name: "test-opt-in",
      description: "",
      optIn: true,
      run: async () => void ran.push("opt-in"),
    });
    addBenchSection({ name: "test-always", description: "", run: async () => void ran.push("always") });
    await runBench(["--backend", "cpu", "test-opt-in"], () => {});
    expect(ran).toEqual(["opt-in"]);
  });
});
