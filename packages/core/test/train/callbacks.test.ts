import "@tensorflow/tfjs-backend-cpu";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listCheckpoints } from "../../src/checkpoint/index.js";
import { knnEvaluator } from "../../src/eval/index.js";
import { Rng } from "../../src/rng.js";
import { ToyAutoencoder, tinyBuildContext, tinyImageDataset } from "../../src/testing/fixtures.js";
import { tf } from "../../src/tf.js";
import {
  checkpointing,
  evaluateEvery,
  formatDuration,
  metricsSink,
  progressLogger,
  Trainer,
} from "../../src/train/index.js";

let root: string;
beforeAll(async () => {
  await tf.setBackend("cpu");
  root = await mkdtemp(join(tmpdir(), "selfsup-callbacks-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const dataset = tinyImageDataset({ size: 64, testSize: 32 });
const toy = () => new ToyAutoencoder({ noise: 0.1 }, tinyBuildContext(dataset.input, new Rng(1)));

describe("trainer callbacks", () => {
  it("evaluates every epoch, emits the results as metrics, and keeps the best checkpoint by them", async () => {
    const runDir = join(root, "eval");
    const evals: Array<[number, number]> = [];
    const results: number[] = [];
    const trainer = new Trainer({
      method: toy(),
      dataset,
      config: { epochs: 3, batchSize: 16, optimizer: { lr: 0.01 } },
      callbacks: [
        evaluateEvery({
          everyEpochs: 1,
          evaluators: [{ spec: knnEvaluator, options: { k: 10 } }],
          onResults: (r) => void results.push(r.length),
        }),
        checkpointing({ runDir, everyEpochs: 1, keepLast: 1, best: { metric: "knn_top1", mode: "max" } }),
        metricsSink((step, m) => void (m.knn_top1 !== undefined && evals.push([step, m.knn_top1]))),
      ],
    });
    await trainer.fit();
    // after epochs 1, 2, 3 (the end-of-training evaluation is not repeated at the same step)
    expect(evals.map(([s]) => s)).toEqual([4, 8, 12]);
    expect(results).toEqual([1, 1, 1]);
    for (const [, v] of evals) expect(v).toBeGreaterThan(0.5);
    const kept = await listCheckpoints(runDir);
    const best = Math.max(...evals.map(([, v]) => v));
    expect(kept.at(-1)!.step).toBe(12);
    expect(kept.some((c) => c.manifest.metrics.knn_top1 === best)).toBe(true);
    expect(kept.length).toBeLessThanOrEqual(2);
  });

  it("prints progress lines with step, loss, lr, images/s and ETA", async () => {
    const lines: string[] = [];
    await new Trainer({
      method: toy(),
      dataset,
      config: { epochs: 2, batchSize: 16 },
      callbacks: [progressLogger({ every: 4, write: (l) => void lines.push(l) })],
    }).fit();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^step 4\/8 epoch 1 loss \d+\.\d{4} lr \d\.\d{2}e-\d+ \d+ img\/s eta \d+s$/);
    expect(lines[2]).toMatch(/^training completed at step 8 after \d+s$/);
    expect(formatDuration(3725)).toBe("1h02m");
    expect(formatDuration(65)).toBe("1m05s");
  });
});
