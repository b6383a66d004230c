import "@tensorflow/tfjs-backend-cpu";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { latestCheckpoint, loadCheckpoint } from "../../src/checkpoint/index.js";
import type { EpochContext, Method, StepContext, TrainBatch } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { ToyAutoencoder, tinyBuildContext, tinyImageDataset } from "../../src/testing/fixtures.js";
import { tf } from "../../src/tf.js";
import {
  checkpointing,
  metricsSink,
  NonFiniteLossError,
  type TrainConfigInput,
  Trainer,
} from "../../src/train/index.js";

let root: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  root = await mkdtemp(join(tmpdir(), "selfsup-trainer-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const dataset = tinyImageDataset({ size: 64 });
const config: TrainConfigInput = {
  epochs: 3,
  batchSize: 16,
  seed: 7,
  optimizer: { name: "adamw", lr: 0.01, weightDecay: 0.01 },
  schedule: { warmupSteps: 2 },
};

function toy(seed: number, noise = 0.1): ToyAutoencoder {
  return new ToyAutoencoder({ noise }, tinyBuildContext(dataset.input, new Rng(seed)));
}

describe("Trainer", () => {
  it("runs epochs x steps, emitting loss, lr, grad_norm, images_per_sec and method metrics per step", async () => {
    const seen: Array<[number, Record<string, number>]> = [];
    const method = toy(1);
    const trainer = new Trainer({
      method,
      dataset,
      config,
      callbacks: [metricsSink((s, m) => void seen.push([s, m]))],
    });
    expect(trainer.stepsPerEpoch).toBe(4);
    expect(trainer.totalSteps).toBe(12);
    const result = await trainer.fit();
    expect(result.status).toBe("completed");
    expect(result.step).toBe(12);
    expect(result.epoch).toBe(3);
    expect(seen.map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const first = seen[0]![1];
    expect(Object.keys(first).sort()).toEqual(["feature_std", "grad_norm", "images_per_sec", "loss", "lr"]);
    expect(first.lr).toBeCloseTo(0.005, 8); // warmup step 1 of 2
    expect(seen[1]![1].lr).toBeCloseTo(0.01, 8);
    expect(result.losses.at(-1)!).toBeLessThan(result.losses[0]!);
    method.dispose();
  });

  it("dispose frees the optimizer's slots: a fit leaves no tensor behind but the method's", async () => {
    const before = tf.memory().numTensors;
    const method = toy(1);
    const withMethod = tf.memory().numTensors;
    const trainer = new Trainer({ method, dataset, config: { ...config, epochs: 1 } });
    await trainer.fit();
    expect(tf.memory().numTensors).toBeGreaterThan(withMethod); // AdamW's two moments per parameter
    trainer.dispose();
    expect(tf.memory().numTensors).toBe(withMethod);
    method.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("gives identical losses for two runs with one seed", async () => {
    const a = await new Trainer({ method: toy(1), dataset, config }).fit();
    const b = await new Trainer({ method: toy(1), dataset, config }).fit();
    expect(b.losses).toEqual(a.losses);
    const c = await new Trainer({ method: toy(1), dataset, config: { ...config, seed: 8 } }).fit();
    expect(c.losses).not.toEqual(a.losses);
  });

  it("calls the epoch hooks with the epoch number, and iterate() covers the training split once", async () => {
    const method = toy(1);
    const calls: string[] = [];
    let seen = 0;
    Object.assign(method, {
      async onEpochStart(ctx: EpochContext) {
        calls.push(`start ${ctx.epoch}`);
      },
      async onEpochEnd(ctx: EpochContext) {
        calls.push(`end ${ctx.epoch}`);
        seen = 0;
        for await (const b of ctx.iterate(24)) seen += b.indices.length;
      },
    });
    await new Trainer({ method, dataset, config: { ...config, epochs: 2 } }).fit();
    expect(calls).toEqual(["start 0", "end 0", "start 1", "end 1"]);
    expect(seen).toBe(64);
  });

  it("stops on maxSteps", async () => {
    const r = await new Trainer({ method: toy(1), dataset, config: { ...config, maxSteps: 5 } }).fit();
    expect(r.step).toBe(5);
    expect(r.losses).toHaveLength(5);
  });

  it("accumulating k micro-batches of b equals one batch of k*b (same weights after the step)", async () => {
    const eight = tinyImageDataset({ size: 8 });
    const base: TrainConfigInput = {
      epochs: 1,
      shuffle: false,
      seed: 3,
      optimizer: { name: "sgd", lr: 0.5, momentum: 0 },
    };
    const ctx = () => tinyBuildContext(eight.input, new Rng(5));
    const one = new ToyAutoencoder({ noise: 0 }, ctx());
    const two = new ToyAutoencoder({ noise: 0 }, ctx());
    const r1 = await new Trainer({ method: one, dataset: eight, config: { ...base, batchSize: 8 } }).fit();
    const r2 = await new Trainer({
      method: two,
      dataset: eight,
      config: { ...base, batchSize: 4, accumulate: 2 },
    }).fit();
    expect(r1.step).toBe(1);
    expect(r2.step).toBe(1);
    expect(r2.losses[0]).toBeCloseTo(r1.losses[0]!, 6);
    const w1 = one.decoder.weight.dataSync();
    const w2 = two.decoder.weight.dataSync();
    const w0 = new ToyAutoencoder({ noise: 0 }, ctx()).decoder.weight.dataSync();
    let moved = 0;
    w1.forEach((v, i) => {
      expect(w2[i]).toBeCloseTo(v, 6);
      moved = Math.max(moved, Math.abs(v - (w0[i] as number)));
    });
    expect(moved).toBeGreaterThan(1e-3);
  });

  it("clips the gradient to clipGradNorm and reports the norm before clipping", async () => {
    const norms: number[] = [];
    const before = toy(2, 0);
    const after = toy(2, 0);
    const cfg: TrainConfigInput = {
      ...config,
      maxSteps: 1,
      optimizer: { name: "sgd", lr: 1, momentum: 0 },
      schedule: { name: "constant" },
    };
    await new Trainer({
      method: after,
      dataset,
      config: { ...cfg, clipGradNorm: 1e-3 },
      callbacks: [metricsSink((_, m) => void norms.push(m.grad_norm!))],
    }).fit();
    expect(norms[0]).toBeGreaterThan(1e-3);
    // the total change of the weights (lr 1) has norm clipGradNorm
    let sq = 0;
    for (const [name, v] of after.modules().encoder!.stateDict()) {
      const b = before.modules().encoder!.stateDict().get(name)!.dataSync();
      v.dataSync().forEach((x, i) => {
        sq += (x - (b[i] as number)) ** 2;
      });
    }
    for (const [name, v] of after.decoder.stateDict()) {
      const b = before.decoder.stateDict().get(name)!.dataSync();
      v.dataSync().forEach((x, i) => {
        sq += (x - (b[i] as number)) ** 2;
      });
    }
    expect(Math.sqrt(sq)).toBeCloseTo(1e-3, 5);
  });

  it("does not leak tensors across steps", async () => {
    const method = toy(1);
    const counts: number[] = [];
    await new Trainer({
      method,
      dataset,
      config,
      callbacks: [{ onStepEnd: () => void counts.push(tf.memory().numTensors) }],
    }).fit();
    expect(new Set(counts.slice(2)).size).toBe(1);
  });

  it("refuses a trainStep that never calls ctx.minimize", async () => {
    const method = toy(1);
    method.trainStep = () => ({ loss: 0, metrics: {} });
    await expect(new Trainer({ method, dataset, config }).fit()).rejects.toThrow(
      /without calling ctx\.minimize/,
    );
  });
});

describe("Trainer resume and interruption", () => {
  it("resumes mid-epoch with exactly the losses of an uninterrupted run", async () => {
    const full = await new Trainer({ method: toy(1), dataset, config }).fit();

    for (const stopAt of [6, 8]) {
      // 6: inside epoch 2; 8: at the end of epoch 2 (before its epoch-end hooks)
      const runDir = join(root, `resume-${stopAt}`);
      const abort = new AbortController();
      const first = new Trainer({
        method: toy(1),
        dataset,
        config,
        callbacks: [
          { onStepEnd: (s) => void (s.step === stopAt && abort.abort()) },
          checkpointing({ runDir }),
        ],
      });
      const r1 = await first.fit({ signal: abort.signal });
      expect(r1.status).toBe("interrupted");
      expect(r1.step).toBe(stopAt);
      expect(r1.checkpoint).toBe(await latestCheckpoint(runDir));

      // a fresh method with other initial weights: everything must come from the checkpoint
      const second = new Trainer({
        method: toy(99),
        dataset,
        config,
        callbacks: [checkpointing({ runDir })],
      });
      const r2 = await second.fit({ resumeFrom: runDir });
      expect(r2.status).toBe("completed");
      expect(r2.firstStep).toBe(stopAt);
      expect([...r1.losses, ...r2.losses]).toEqual(full.losses);
    }
  });

  it("stops at an epoch end when the signal fires there or before training, without another step", async () => {
    const full = await new Trainer({ method: toy(1), dataset, config }).fit();
    // aborted in onEpochEnd (as a sweep's early stop is decided): no step of the next epoch
    const runDir = join(root, "stop-at-epoch-end");
    const abort = new AbortController();
    const steps: number[] = [];
    const first = new Trainer({
      method: toy(1),
      dataset,
      config,
      callbacks: [
        { onStepEnd: (s) => void steps.push(s.step), onEpochEnd: (e) => void (e === 0 && abort.abort()) },
        checkpointing({ runDir }),
      ],
    });
    const r1 = await first.fit({ signal: abort.signal });
    expect(r1.status).toBe("interrupted");
    expect(r1.step).toBe(4);
    expect(r1.epoch).toBe(1);
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(r1.checkpoint).toBe(await latestCheckpoint(runDir));
    // resumed from that checkpoint: the rest of the losses of an uninterrupted run
    const r2 = await new Trainer({
      method: toy(99),
      dataset,
      config,
      callbacks: [checkpointing({ runDir })],
    }).fit({ resumeFrom: runDir });
    expect(r2.firstStep).toBe(4);
    expect([...r1.losses, ...r2.losses]).toEqual(full.losses);
    // already aborted before fit: nothing trained
    const done = new AbortController();
    done.abort();
    const r3 = await new Trainer({ method: toy(1), dataset, config }).fit({ signal: done.signal });
    expect(r3.status).toBe("interrupted");
    expect(r3.step).toBe(0);
  });

  it("says clearly when there is nothing to resume from", async () => {
    await expect(
      new Trainer({ method: toy(1), dataset, config }).fit({ resumeFrom: join(root, "empty-run") }),
    ).rejects.toThrow(/cannot resume from .*empty-run: it is neither a checkpoint directory/);
  });

  it("refuses to resume with a different batch size", async () => {
    const runDir = join(root, "resume-mismatch");
    await new Trainer({
      method: toy(1),
      dataset,
      config: { ...config, maxSteps: 2 },
      callbacks: [checkpointing({ runDir })],
    }).fit();
    await expect(
      new Trainer({ method: toy(1), dataset, config: { ...config, batchSize: 8 } }).fit({
        resumeFrom: runDir,
      }),
    ).rejects.toThrow(/batchSize=16 but this run has batchSize=8/);
  });

  it("stops on a NaN loss with NonFiniteLossError and keeps the last good checkpoint", async () => {
    const runDir = join(root, "nan");
    const method = toy(1);
    const train = method.trainStep.bind(method);
    method.trainStep = (batch: TrainBatch, ctx: StepContext) => {
      if (ctx.step !== 4) return train(batch, ctx);
      return ctx.minimize(() => {
        const out = method.loss(batch.inputs, ctx.rng);
        return { loss: tf.tidy(() => tf.mul(out.loss, Number.NaN)) as tf.Scalar };
      });
    };
    const trainer = new Trainer({
      method,
      dataset,
      config,
      callbacks: [checkpointing({ runDir, everySteps: 2 })],
    });
    const err = await trainer.fit().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    expect((err as NonFiniteLossError).step).toBe(5);
    expect((err as Error).message).toMatch(/non-finite loss \(NaN\) at step 5, epoch 1/);
    const dirs = await readdir(join(runDir, "checkpoints"));
    expect(dirs.sort()).toEqual(["step-00000002", "step-00000004"]);
    const ck = await loadCheckpoint((await latestCheckpoint(runDir))!);
    expect(ck.meta.step).toBe(4);
    for (const t of ck.weights.values()) expect(tf.all(tf.isFinite(t)).dataSync()[0]).toBe(1);
    ck.dispose();
  });

  it("keeps only the last N checkpoints", async () => {
    const runDir = join(root, "keep");
    await new Trainer({
      method: toy(1),
      dataset,
      config,
      callbacks: [checkpointing({ runDir, everySteps: 1, keepLast: 2 })],
    }).fit();
    expect((await readdir(join(runDir, "checkpoints"))).sort()).toEqual(["step-00000011", "step-00000012"]);
  });
});

// keeps the Method type import honest: the toy is a Method
const _typecheck: Method = toy(0);
void _typecheck;
