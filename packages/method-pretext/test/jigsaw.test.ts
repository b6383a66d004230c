import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend, jigsawPermutations, Trainer, tf } from "@selfsup/core";
import { createMethod, tinyImageDataset } from "@selfsup/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Jigsaw, jigsawMethod } from "../src/index.js";

beforeAll(async () => {
  await initBackend("cpu");
});

function hamming(a: number[], b: number[]): number {
  return a.reduce((d, v, i) => d + (v === b[i] ? 0 : 1), 0);
}

function minDistance(set: number[][]): number {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < set.length; i++)
    for (let j = i + 1; j < set.length; j++)
      min = Math.min(min, hamming(set[i] as number[], set[j] as number[]));
  return min;
}

describe("jigsaw permutation set", () => {
  it("100 distinct permutations of 9 tiles, the first the identity, far apart (greedy max-min Hamming)", () => {
    const set = jigsawPermutations(100, 9);
    expect(set).toHaveLength(100);
    expect(set[0]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    for (const p of set) expect([...p].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(new Set(set.map((p) => p.join())).size).toBe(100);
    // the greedy choice beats 100 random permutations' typical minimum distance by far
    expect(minDistance(set)).toBeGreaterThanOrEqual(6);
    // and a smaller set is spread further
    expect(minDistance(jigsawPermutations(10, 9))).toBeGreaterThanOrEqual(8);
  });
});

describe("jigsaw", () => {
  const input = { kind: "image" as const, height: 28, width: 28, channels: 1 };
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "jigsaw-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("adapts tiles to 28x28 and 32x32 inputs, and its encoder concatenates 9 tile features", () => {
    const m = createMethod(jigsawMethod, { input, options: { headHiddenDim: 8 } }) as Jigsaw;
    expect(m.geometry.tile).toBe(6);
    expect(m.encoder().outputDim).toBe(9 * m.backbone.outputDim);
    const x = tf.zeros([2, 28, 28, 1]);
    const y = m.encoder().forward(x);
    expect(y.shape).toEqual([2, 9 * m.backbone.outputDim]);
    tf.dispose([x, y]);
    m.dispose();
    const rgb = createMethod(jigsawMethod, {
      input: { kind: "image", height: 32, width: 32, channels: 3 },
      options: { headHiddenDim: 8 },
    }) as Jigsaw;
    expect(rgb.geometry.tile).toBe(7);
    rgb.dispose();
  });

  it("saves the permutation set with the checkpoint and a restore brings the saved set back", async () => {
    const dataset = tinyImageDataset({ height: 28, width: 28, size: 32 });
    const a = createMethod(jigsawMethod, {
      input,
      options: { permutations: 10, headHiddenDim: 8 },
    }) as Jigsaw;
    const trainer = new Trainer({ method: a, dataset, config: { epochs: 1, batchSize: 16, seed: 0 } });
    await trainer.fit();
    await trainer.saveCheckpoint(join(dir, "ckpt"));
    const saved = a.permutationSet();
    expect(saved).toEqual(jigsawPermutations(10, 9));
    const b = createMethod(jigsawMethod, {
      input,
      options: { permutations: 10, headHiddenDim: 8 },
    }) as Jigsaw;
    // a set from another generator (as if the default construction changed between versions)
    b.perms.assign(
      tf.tensor2d(
        saved.map((p) => [...p].reverse()),
        undefined,
        "int32",
      ),
    );
    await new Trainer({ method: b, dataset, config: { epochs: 1, batchSize: 16, seed: 0 } }).restore(
      join(dir, "ckpt"),
    );
    expect(b.permutationSet()).toEqual(saved);
    a.dispose();
    b.dispose();
  });
});
