/**
 * The throughput section's pieces that can be checked cheaply: the analytic FLOP count of the
 * kernels a training step runs, and that `pnpm bench <section>` selects opt-in sections by name.
 */
import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { registerTrainingGradients } from "../../src/backend/gradients/index.js";
import { addBenchSection, parseBenchArgs, runBench } from "../../src/bench/main.js";
import { benchThroughput, formatThroughputRow, kernelFlops } from "../../src/bench/throughput.js";
import { createRegistry } from "../../src/builtin-plugin.js";
import { buildClassifier, MethodBase, twoViews } from "../../src/method/index.js";
import { defineMethod, definePlugin } from "../../src/plugin/define-plugin.js";
import type { StepContext, StepResult, TrainBatch } from "../../src/plugin/types.js";
import { tf } from "../../src/tf.js";

/** A two-view method: pull the views' projections together. */
class Pull extends MethodBase {
  override readonly name = "pull";
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly head = this.module("head", buildClassifier(this.ctx, this.backbone.outputDim, 4));
  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    return ctx.minimize(() => {
      const [a, b] = twoViews(batch, this.name);
      const d = tf.sub(
        this.head.forward(this.backbone.forward(a)),
        this.head.forward(this.backbone.forward(b)),
      );
      return { loss: tf.mean(tf.square(d)) as tf.Scalar };
    });
  }
}

type ThroughputRowT = Awaited<ReturnType<typeof benchThroughput>>[number];

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

  it("measures a method per backend and records a method that refuses the backbone as a skip", async () => {
    const registry = createRegistry();
    const none = z.object({});
    registry.register(
      definePlugin({
        name: "test-methods",
        methods: [
          defineMethod({
            name: "pull",
            description: "test: pull two views together",
            family: "other",
            inputs: ["image"],
            options: none,
            create: (_o, ctx) => new Pull({}, ctx),
          }),
          defineMethod({
            name: "patches-only",
            description: "test: refuses every backbone",
            family: "other",
            inputs: ["image"],
            options: none,
            create: () => {
              throw new Error(
                "patches-only needs a vit-tiny backbone, got ConvNet; set the run's backbone. More text.",
              );
            },
          }),
        ],
      }),
    );
    const lines: string[] = [];
    const rows = await benchThroughput({
      registry,
      // wasm second: it starts from another active backend, with wasm not yet initialised
      backends: ["cpu", "wasm"],
      steps: 1,
      shapes: [
        {
          name: "tiny",
          backbone: "convnet",
          backboneOptions: { width: 2 },
          size: 8,
          channels: 1,
          batchSize: 4,
        },
      ],
      log: (l) => lines.push(l),
    });
    expect(rows.map((r) => `${r.backend}/${r.method}`)).toEqual([
      "cpu/patches-only",
      "cpu/pull",
      "wasm/patches-only",
      "wasm/pull",
    ]);
    const [skipped, pull, , wasmPull] = rows as ThroughputRowT[] as [
      ThroughputRowT,
      ThroughputRowT,
      ThroughputRowT,
      ThroughputRowT,
    ];
    expect(tf.getBackend()).toBe("cpu"); // the caller's backend is restored
    expect(wasmPull.error).toBeUndefined();
    expect(wasmPull.imagesPerSec).toBeGreaterThan(0);
    expect(skipped.error).toBe("skipped: patches-only needs a vit-tiny backbone, got ConvNet");
    expect(formatThroughputRow(skipped)).toContain("skipped: patches-only");
    expect(pull.error).toBeUndefined();
    expect(pull.imagesPerSec).toBeGreaterThan(0);
    expect(pull.cpuMsPerStep).toBeGreaterThan(0);
    expect(pull.gflopPerStep).toBeGreaterThan(0);
    expect(pull.leakedPerStep).toBe(0);
    expect(lines.some((l) => l.startsWith("cpu") && l.includes("pull"))).toBe(true);
  });

  it("`bench <name>` runs that section; opt-in sections run only when named", async () => {
    expect(parseBenchArgs(["throughput", "--quick"])).toEqual({
      backend: "auto",
      only: ["throughput"],
      quick: true,
      store: true,
    });
    expect(
      parseBenchArgs([
        "throughput",
        "--methods",
        "simclr,byol",
        "--shapes",
        "convnet",
        "--backends",
        "wasm,wasm-threads",
      ]),
    ).toMatchObject({ methods: ["simclr", "byol"], shapes: ["convnet"], backends: ["wasm", "wasm-threads"] });
    expect(() => parseBenchArgs(["--backends", "wasm,webgl"])).toThrow(/--backends webgl/);
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
