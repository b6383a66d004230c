import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convNetBackbone, initBackend, jigsawPermutations, type Rng, Trainer, tf } from "@selfsup/core";
import { createMethod, tinyImageDataset } from "@selfsup/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Jigsaw, jigsawMethod, normalizeTiles, TileTrunkEncoder } from "../src/index.js";

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

  it("adapts tiles to 28x28 and 32x32 inputs; representation tiles concatenates 9 tile features", () => {
    const m = createMethod(jigsawMethod, {
      input,
      options: { headHiddenDim: 8, representation: "tiles" },
    }) as Jigsaw;
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

  it("hands evaluators the tile trunk on whole images when the backbone runs on them (convnet)", () => {
    const convnet = (i: Parameters<typeof convNetBackbone.build>[1], rng: Rng) =>
      convNetBackbone.build(convNetBackbone.options.parse({ width: 4, pool: "max", grid: 2 }), i, rng);
    const m = createMethod(jigsawMethod, {
      input,
      backbone: convnet,
      options: { headHiddenDim: 8, permutations: 4 },
    }) as Jigsaw;
    const enc = m.encoder();
    expect(enc).toBeInstanceOf(TileTrunkEncoder);
    expect(m.backbone.outputDim).toBe(16); // built for 6x6 tiles: a 1x1 last map
    expect(enc.outputDim).toBe(64); // on 28x28 images: a 4x4 map pooled to the 2x2 grid
    // the very tile weights, on the image normalised as tiles are
    const own = m.backbone.trainableVariables();
    expect(enc.trainableVariables().every((v, i) => v === own[i])).toBe(true);
    expect(enc.trainableVariables()).toHaveLength(own.length);
    enc.eval();
    const x = tf.randomUniform([3, 28, 28, 1], 0, 1, "float32", 4);
    const y = enc.forward(x);
    expect(y.shape).toEqual([3, 64]);
    const want = m.backbone.forward(normalizeTiles(x));
    expect(tf.max(tf.abs(tf.sub(y, want))).dataSync()[0]).toBeLessThan(1e-6);
    // a clone (what fine-tuning trains) is independent and the same function
    const copy = enc.clone();
    expect(tf.max(tf.abs(tf.sub(copy.forward(x), y))).dataSync()[0]).toBeLessThan(1e-6);
    expect(copy.trainableVariables()[0]).not.toBe(enc.trainableVariables()[0]);
    copy.dispose();
    tf.dispose([x, y, want]);
    m.dispose();
  });

  it("falls back to the 9 tile features for a backbone fixed to the tile size, and trunk says why it cannot", () => {
    const auto = createMethod(jigsawMethod, {
      input,
      options: { headHiddenDim: 8, permutations: 4 },
    }) as Jigsaw;
    expect(auto.encoder()).not.toBeInstanceOf(TileTrunkEncoder);
    expect(auto.encoder().outputDim).toBe(9 * auto.backbone.outputDim);
    auto.dispose();
    expect(() =>
      createMethod(jigsawMethod, {
        input,
        options: { headHiddenDim: 8, permutations: 4, representation: "trunk" },
      }),
    ).toThrow(/representation "trunk" needs a backbone that runs on whole 28x28 images/);
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
