import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, it } from "vitest";
import { type Batch, DataLoader, synthetic, textLines } from "../../src/data/index.js";
import type { DatasetSplit } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { tf } from "../../src/tf.js";

let split: DatasetSplit;
beforeAll(async () => {
  await tf.setBackend("cpu");
  split = (await synthetic.load(synthetic.options.parse({ size: 8, trainSize: 23, testSize: 0 }))).train;
});

async function epochIndices(loader: DataLoader | AsyncIterable<Batch>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of loader) {
    out.push(b.indices);
    tf.dispose([b.inputs, ...(b.labels ? [b.labels] : [])]);
  }
  return out;
}

describe("DataLoader", () => {
  it("visits every index once per epoch, shapes batches, keeps a short last batch", async () => {
    const loader = new DataLoader(split, { batchSize: 5, seed: 1 });
    expect(loader.numBatches).toBe(5);
    const seen: number[] = [];
    const sizes: number[] = [];
    for await (const b of loader) {
      expect(b.inputs.shape.slice(1)).toEqual([8, 8, 1]);
      expect(b.inputs.dtype).toBe("float32");
      expect(b.labels!.dtype).toBe("int32");
      expect(Array.from(b.labels!.dataSync())).toEqual(b.indices.map((i) => i % 4));
      sizes.push(b.indices.length);
      seen.push(...b.indices);
      tf.dispose([b.inputs, b.labels!]);
    }
    expect(sizes).toEqual([5, 5, 5, 5, 3]);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it("dropLast leaves out the short batch", async () => {
    const loader = new DataLoader(split, { batchSize: 5, dropLast: true, shuffle: false });
    expect(loader.numBatches).toBe(4);
    const batches = await epochIndices(loader);
    expect(batches).toHaveLength(4);
    expect(batches[0]).toEqual([0, 1, 2, 3, 4]);
  });

  it("the order is reproducible for a seed, differs across epochs and seeds", async () => {
    const a = new DataLoader(split, { batchSize: 4, seed: 7 });
    const b = new DataLoader(split, { batchSize: 4, seed: 7 });
    const a0 = await epochIndices(a);
    const a1 = await epochIndices(a);
    expect(a.epoch).toBe(2);
    expect(await epochIndices(b)).toEqual(a0);
    expect(a1).not.toEqual(a0);
    expect(await epochIndices(new DataLoader(split, { batchSize: 4, seed: 8 }))).not.toEqual(a0);
    const fromRng = await epochIndices(new DataLoader(split, { batchSize: 4, rng: new Rng(3) }));
    expect(await epochIndices(new DataLoader(split, { batchSize: 4, rng: new Rng(3) }))).toEqual(fromRng);
  });

  it("resuming with skip(k) gives the batches continuing would have", async () => {
    const full = new DataLoader(split, { batchSize: 4, seed: 3 });
    await epochIndices(full);
    const epoch1 = await epochIndices(full);
    const resumed = new DataLoader(split, { batchSize: 4, seed: 3 }).setEpoch(1).skip(2);
    expect(await epochIndices(resumed)).toEqual(epoch1.slice(2));
    // skip applies once: the next epoch starts at batch 0 again
    expect(await epochIndices(resumed)).toHaveLength(6);
  });

  it("leaks no tensor when the caller stops early, with or without prefetch", async () => {
    for (const prefetch of [true, false]) {
      const before = tf.memory().numTensors;
      const loader = new DataLoader(split, { batchSize: 4, seed: 1, prefetch });
      for await (const b of loader) {
        tf.dispose([b.inputs, b.labels!]);
        if (b.batch === 1) break;
      }
      await new Promise((r) => setTimeout(r, 10));
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it("stops with the dataset's error, naming the problem", async () => {
    const broken: DatasetSplit & {
      input: { kind: "image"; height: number; width: number; channels: number };
    } = {
      size: 4,
      input: { kind: "image", height: 2, width: 2, channels: 1 },
      get: async (i) =>
        i === 2 ? Promise.reject(new Error("disk on fire at sample 2")) : { data: new Float32Array(4) },
    };
    const loader = new DataLoader(broken, { batchSize: 2, shuffle: false });
    await expect(epochIndices(loader)).rejects.toThrow(/disk on fire at sample 2/);
    const wrong = new DataLoader(
      { ...broken, get: async () => ({ data: new Float32Array(3) }) },
      { batchSize: 2 },
    );
    await expect(epochIndices(wrong)).rejects.toThrow(/has 3 values, expected 4/);
  });

  it("batches token ids as int32 [B,T]", async () => {
    const { writeFile, mkdtemp, rm } = await import("node:fs/promises");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "selfsup-loader-"));
    await writeFile(join(dir, "t.txt"), "ab\nbc\nca\n");
    const ds = await textLines.load(textLines.options.parse({ path: join(dir, "t.txt"), seqLen: 5 }));
    const loader = new DataLoader(ds.train, { batchSize: 2, shuffle: false });
    for await (const b of loader) {
      expect(b.inputs.dtype).toBe("int32");
      expect(b.inputs.shape).toEqual([b.indices.length, 5]);
      expect(b.labels).toBeUndefined();
      b.inputs.dispose();
    }
    await rm(dir, { recursive: true, force: true });
  });
});
