import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import "@tensorflow/tfjs-backend-cpu";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cropAndResizeBoxes } from "../../src/augment/random-resized-crop.js";
import {
  CACHE_HEADER_BYTES,
  DataLoader,
  DecodePool,
  type ImageFolderDataset,
  listCaches,
  loadImageFolder,
  PooledFolderSplit,
  quasiRandomOrder,
} from "../../src/data/index.js";
import type { StepContext, TrainBatch } from "../../src/plugin/types.js";
import { Rng } from "../../src/rng.js";
import { ToyAutoencoder, tinyBuildContext } from "../../src/testing/fixtures.js";
import { tf } from "../../src/tf.js";
import { Trainer } from "../../src/train/index.js";

let dir = "";
const rgb = (w: number, h: number, f: (x: number, y: number) => [number, number, number]) => {
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(f(x, y), (y * w + x) * 3);
  return sharp(data, { raw: { width: w, height: h, channels: 3 } });
};
const solid = (w: number, h: number, c: [number, number, number]) => rgb(w, h, () => c);
/** A photo-like pattern, different per seed (so samples differ). */
const pattern = (seed: number) =>
  rgb(48, 36, (x, y) => [(x * 5 + seed * 31) % 256, (y * 7 + seed * 17) % 256, ((x + y) * 3 + seed) % 256]);

async function pixel(ds: ImageFolderDataset, i: number): Promise<number[]> {
  const s = await ds.train.get(i);
  return Array.from(s.data.slice(0, 3), (v) => Math.round(v * 255));
}

async function epochBytes(ds: ImageFolderDataset, batchSize = 5): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const loader = new DataLoader(ds.train, { batchSize, seed: 3 });
  for await (const b of loader) {
    out.push(b.inputs.dataSync() as Float32Array);
    b.inputs.dispose();
    b.labels?.dispose();
  }
  return out;
}

/** One epoch's samples by split index (order-free; a CRC-32 of each one's floats), and the order they came in. */
async function epochSamples(
  ds: ImageFolderDataset,
  batchSize = 5,
  seed = 3,
): Promise<{ byIndex: Map<number, number>; order: number[] }> {
  const byIndex = new Map<number, number>();
  const order: number[] = [];
  const loader = new DataLoader(ds.train, { batchSize, seed });
  for await (const b of loader) {
    const v = b.inputs.dataSync() as Float32Array;
    const per = v.length / b.indices.length;
    b.indices.forEach((i, k) => {
      byIndex.set(i, crc32(new Uint8Array(v.buffer, v.byteOffset + k * per * 4, per * 4)));
    });
    order.push(...b.indices);
    b.inputs.dispose();
    b.labels?.dispose();
  }
  return { byIndex, order };
}

beforeAll(async () => {
  await tf.setBackend("cpu");
  dir = await mkdtemp(join(tmpdir(), "selfsup-pool-"));
  const f = join(dir, "formats");
  await mkdir(f);
  // each format, solid red unless said; names sort in this order
  await solid(20, 10, [255, 0, 0]).jpeg({ quality: 100 }).toFile(join(f, "a-red.jpg"));
  await solid(20, 10, [255, 0, 0]).png().toFile(join(f, "b-red.png"));
  await solid(20, 10, [255, 0, 0]).webp({ lossless: true }).toFile(join(f, "c-red.webp"));
  await solid(20, 10, [255, 0, 0]).avif({ lossless: true }).toFile(join(f, "d-red.avif"));
  await solid(20, 10, [255, 0, 0]).tiff().toFile(join(f, "e-red.tiff"));
  await solid(20, 10, [255, 0, 0]).gif().toFile(join(f, "f-red.gif"));
  // gray 16-bit PNG at 50%, RGBA half-transparent white (over black: 128), palette PNG, CMYK JPEG
  await sharp(Buffer.alloc(100, 0x80), { raw: { width: 10, height: 10, channels: 1 } })
    .toColourspace("grey16")
    .png()
    .toFile(join(f, "g-gray16.png"));
  await sharp(
    Buffer.alloc(10 * 10 * 4, 255).map((v, i) => (i % 4 === 3 ? 128 : v)),
    {
      raw: { width: 10, height: 10, channels: 4 },
    },
  )
    .png()
    .toFile(join(f, "h-rgba.png"));
  await solid(10, 10, [0, 0, 255]).png({ palette: true }).toFile(join(f, "i-palette-blue.png"));
  await solid(10, 10, [255, 255, 255])
    .toColourspace("cmyk")
    .jpeg({ quality: 100 })
    .toFile(join(f, "j-cmyk-white.jpg"));
  // EXIF orientation 6 (rotate 90 clockwise to view): the stored left half (red) is on top when upright
  await rgb(20, 10, (x) => (x < 10 ? [255, 0, 0] : [0, 0, 255]))
    .jpeg({ quality: 100 })
    .withMetadata({ orientation: 6 })
    .toFile(join(f, "k-exif6.jpg"));

  const p = join(dir, "photos");
  await mkdir(p);
  for (let i = 0; i < 23; i++)
    await pattern(i)
      .jpeg({ quality: 90 })
      .toFile(join(p, `p${String(i).padStart(2, "0")}.jpg`));

  const bad = join(dir, "bad");
  await mkdir(bad);
  for (let i = 0; i < 6; i++)
    await pattern(i)
      .png()
      .toFile(join(bad, `ok${i}.png`));
  const jpg = await pattern(9).jpeg().toBuffer();
  await writeFile(join(bad, "ok2-truncated.jpg"), jpg.subarray(0, Math.floor(jpg.length / 2)));
  await writeFile(join(bad, "ok4-crash.png"), await pattern(4).png().toBuffer());
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("image-folder on the sharp worker pool", () => {
  it("decodes every format, converts gray/16-bit/alpha/palette/CMYK to RGB and applies EXIF orientation", async () => {
    const ds = await loadImageFolder({
      path: join(dir, "formats"),
      size: 8,
      resize: "stretch",
      cache: false,
      workers: 2,
    });
    try {
      expect(ds.train).toBeInstanceOf(PooledFolderSplit);
      expect(ds.train.size).toBe(11);
      for (let i = 0; i < 6; i++) {
        const [r, g, b] = await pixel(ds, i);
        expect(r, `format ${i}`).toBeGreaterThan(240);
        expect(g! + b!, `format ${i}`).toBeLessThan(20);
      }
      const gray = await pixel(ds, 6);
      expect(gray[0]).toBeCloseTo(128, -1);
      expect(new Set(gray).size).toBe(1);
      expect(await pixel(ds, 7)).toEqual([128, 128, 128]);
      const blue = await pixel(ds, 8);
      expect(blue[2]).toBeGreaterThan(240);
      const white = await pixel(ds, 9); // C=M=Y=K=0
      for (const v of white) expect(v).toBeGreaterThan(235);
      const upright = await ds.train.get(10);
      const at = (y: number) =>
        Array.from(upright.data.slice(y * 8 * 3, y * 8 * 3 + 3), (v) => Math.round(v * 255));
      expect(at(0)[0]).toBeGreaterThan(200); // top row red
      expect(at(7)[2]).toBeGreaterThan(200); // bottom row blue
    } finally {
      await ds.close();
    }
  });

  it("gives the same batches bit for bit with 1 or 3 workers, from the decoder or the cache, in memory or streamed", async () => {
    const cacheDir = join(dir, "cache-det");
    const one = await loadImageFolder({ path: join(dir, "photos"), size: 16, workers: 1, cacheDir });
    const a = await epochBytes(one);
    await one.close();
    const three = await loadImageFolder({ path: join(dir, "photos"), size: 16, workers: 3, cache: false });
    const b = await epochBytes(three);
    await three.close();
    expect(b).toEqual(a);
    // the first load built the cache while it trained
    const caches = await listCaches(cacheDir);
    expect(caches.map((c) => [c.partial, c.meta?.count, c.problem])).toEqual([[false, 23, undefined]]);
    const warm = await loadImageFolder({ path: join(dir, "photos"), size: 16, cacheDir });
    expect(await epochBytes(warm)).toEqual(a);
    expect((warm.train as PooledFolderSplit).cacheState).toBe("memory");
    await warm.close();
    // streamed: the same samples, in the order a streamed cache reads fast (here one chunk: a shuffle)
    const streamed = await loadImageFolder({
      path: join(dir, "photos"),
      size: 16,
      cacheDir,
      memoryBudgetMB: 0,
    });
    const inMemory = await loadImageFolder({ path: join(dir, "photos"), size: 16, cacheDir });
    const s = await epochSamples(streamed);
    expect((streamed.train as PooledFolderSplit).cacheState).toBe("stream");
    expect(s.byIndex).toEqual((await epochSamples(inMemory)).byIndex);
    expect([...s.order].sort((x, y) => x - y)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    await streamed.close();
    await inMemory.close();
  });

  it("quasiRandomOrder: a permutation, chunk by chunk within each window, the same for the same seed", () => {
    const order = quasiRandomOrder(new Rng(5), 23, 5, 2);
    expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(quasiRandomOrder(new Rng(5), 23, 5, 2)).toEqual(order);
    expect(quasiRandomOrder(new Rng(6), 23, 5, 2)).not.toEqual(order);
    // windows of 2 chunks of 5 (25 records: whole chunks): each run of 10 spans exactly 2 chunks
    const even = quasiRandomOrder(new Rng(5), 25, 5, 2);
    const chunksOf = (xs: number[]) => new Set(xs.map((i) => Math.floor(i / 5))).size;
    expect([chunksOf(even.slice(0, 10)), chunksOf(even.slice(10, 20)), chunksOf(even.slice(20))]).toEqual([
      2, 2, 1,
    ]);
    // one window covering every chunk is a full shuffle of the indices
    expect(quasiRandomOrder(new Rng(5), 23, 5, 99)).not.toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it("streamed by chunks (5 records of 256x256 each): same samples as in memory, exact resume, a corrupt chunk rebuilt", async () => {
    const cacheDir = join(dir, "cache-chunks");
    const opts = { path: join(dir, "photos"), size: 256, cacheDir, workers: 2 };
    const built = await loadImageFolder(opts);
    await (built.train as PooledFolderSplit).whenCached();
    const reference = await epochSamples(built);
    await built.close();
    const streamOpts = { ...opts, memoryBudgetMB: 0, shuffleWindowMB: 1 };
    const streamed = await loadImageFolder(streamOpts);
    const split = streamed.train as PooledFolderSplit;
    const whole = await epochSamples(streamed, 4, 7);
    expect(split.cacheState).toBe("stream");
    expect(whole.byIndex).toEqual(reference.byIndex);
    // one chunk per window: the order is 5 runs, each all of one chunk's records (5, the last 3)
    const runs: number[][] = [];
    for (const i of whole.order) {
      const last = runs.at(-1);
      if (last && Math.floor(last[0]! / 5) === Math.floor(i / 5)) last.push(i);
      else runs.push([i]);
    }
    expect(runs.map((r) => r.length).sort()).toEqual([3, 5, 5, 5, 5]);
    // resume: skip(3) replays the rest of the same epoch
    const tail: number[] = [];
    for await (const b of new DataLoader(streamed.train, { batchSize: 4, seed: 7 }).skip(3)) {
      tail.push(...b.indices);
      b.inputs.dispose();
    }
    expect(tail).toEqual(whole.order.slice(12));
    await streamed.close();

    // a flipped byte in record 7 (chunk 1): the chunk fails its check, the cache is dropped and the samples decoded again
    const path = split.cacheFile!;
    const bytes = await readFile(path);
    bytes[CACHE_HEADER_BYTES + 7 * 256 * 256 * 3 + 11]! ^= 0xff;
    await writeFile(path, bytes);
    const again = await loadImageFolder(streamOpts);
    const notes: string[] = [];
    again.onNote((m) => notes.push(m));
    expect((await epochSamples(again, 4, 7)).byIndex).toEqual(reference.byIndex);
    expect(notes.join("\n")).toMatch(/a chunk of records fails its checksum; it is deleted and rebuilt/);
    await again.close();
  });

  it("storeSize: caches the samples larger; batches are the input size, `source` the stored one, crops cut from it", async () => {
    const cacheDir = join(dir, "cache-store");
    const ds = await loadImageFolder({
      path: join(dir, "photos"),
      size: 8,
      storeSize: 12,
      cacheDir,
      workers: 2,
    });
    try {
      const split = ds.train as PooledFolderSplit;
      expect(ds.input).toMatchObject({ height: 8, width: 8 });
      expect([split.stored.height, split.stored.width]).toEqual([12, 12]);
      await split.whenCached();
      expect((await listCaches(cacheDir)).map((c) => c.meta?.shape)).toEqual([[12, 12, 3]]);
      expect((await ds.train.get(0)).data).toHaveLength(8 * 8 * 3);
      const before = tf.memory().numTensors;
      for await (const b of new DataLoader(ds.train, { batchSize: 5, seed: 1, keepSource: true })) {
        expect(b.inputs.shape).toEqual([b.indices.length, 8, 8, 3]);
        expect(b.source!.shape).toEqual([b.indices.length, 12, 12, 3]);
        // the model's batch is the stored one resized; a crop box cut from the stored one comes out at 8
        const resized = tf.image.resizeBilinear(b.source!, [8, 8], false, true);
        expect(Array.from(b.inputs.dataSync())).toEqual(Array.from(resized.dataSync()));
        const crop = cropAndResizeBoxes(
          b.source!,
          b.indices.map(() => ({ top: 2, left: 2, height: 6, width: 6 })),
          [8, 8],
        );
        expect(crop.shape).toEqual([b.indices.length, 8, 8, 3]);
        tf.dispose([resized, crop, b.inputs, b.source!]);
      }
      for await (const b of new DataLoader(ds.train, { batchSize: 5, seed: 1 })) {
        expect(b.source).toBeUndefined(); // not asked for: disposed in the loader
        b.inputs.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      // the trainer hands the stored batch to the views and the input-size one to the method
      const seen: number[][] = [];
      const inner = new ToyAutoencoder({ noise: 0 }, tinyBuildContext(ds.input, new Rng(1)));
      const method = Object.assign(Object.create(inner) as ToyAutoencoder, {
        views: 2,
        trainStep(batch: TrainBatch, ctx: StepContext) {
          seen.push(batch.inputs.shape, ...batch.views.map((v) => v.shape));
          return inner.trainStep(batch, ctx);
        },
      });
      const augmented: number[][] = [];
      const trainer = new Trainer({
        method,
        dataset: ds,
        config: { epochs: 1, batchSize: 8, seed: 1 },
        augment: (x, n) => {
          augmented.push(x.shape);
          return Array.from({ length: n }, () => x.clone());
        },
      });
      expect((await trainer.fit()).status).toBe("completed");
      trainer.dispose();
      inner.dispose();
      expect(augmented).toEqual([
        [8, 12, 12, 3],
        [8, 12, 12, 3],
      ]);
      expect(seen).toHaveLength(6); // 2 steps: the inputs and 2 views each
      expect(seen.every((s) => JSON.stringify(s) === "[8,8,8,3]")).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await ds.close();
    }
    await expect(loadImageFolder({ path: join(dir, "photos"), size: 8, storeSize: 6 })).rejects.toThrow(
      /storeSize 6 is smaller than the training size's short side \(8\)/,
    );
  });

  it("resumes mid-epoch exactly: skip(2) gives the same batches as the rest of a whole epoch", async () => {
    const ds = await loadImageFolder({ path: join(dir, "photos"), size: 8, cache: false, workers: 2 });
    try {
      const whole = await epochBytes(ds);
      const loader = new DataLoader(ds.train, { batchSize: 5, seed: 3 }).skip(2);
      const tail: Float32Array[] = [];
      for await (const b of loader) {
        tail.push(b.inputs.dataSync() as Float32Array);
        b.inputs.dispose();
      }
      expect(tail).toEqual(whole.slice(2));
    } finally {
      await ds.close();
    }
  });

  it("cache: a changed file makes a new one (the stale one goes), a torn or corrupt one is rebuilt, never trusted", async () => {
    const cacheDir = join(dir, "cache-life");
    const photos = join(dir, "photos2");
    await mkdir(photos);
    for (let i = 0; i < 7; i++)
      await pattern(i)
        .png()
        .toFile(join(photos, `q${i}.png`));
    const load = async () => {
      const notes: string[] = [];
      const ds = await loadImageFolder({ path: photos, size: 8, cacheDir, workers: 2 });
      ds.onNote((m) => notes.push(m));
      const split = ds.train as PooledFolderSplit;
      await split.whenCached();
      return { ds, split, notes };
    };
    const first = await load();
    const before = await first.ds.train.get(3);
    const file = first.split.cacheFile!;
    await first.ds.close();

    // a file changes: new key, new cache, the stale one removed
    await pattern(100).png().toFile(join(photos, "q3.png"));
    const second = await load();
    expect(second.split.cacheFile).not.toBe(file);
    const names = (await readdir(cacheDir)).sort();
    expect(names).toEqual([second.split.cacheFile!.split("/").pop()]);
    const changed = await second.ds.train.get(3);
    await second.ds.close();
    expect(changed.data).not.toEqual(before.data);

    // torn: cut short -> reported, deleted, rebuilt
    const path = second.split.cacheFile!;
    await truncate(path, CACHE_HEADER_BYTES + 100);
    const third = await load();
    expect(third.notes.join("\n")).toMatch(/not usable .*torn.*rebuilding/);
    expect((await listCaches(cacheDir)).every((c) => c.problem === undefined)).toBe(true);
    const rebuilt = await third.ds.train.get(3);
    expect(rebuilt.data).toEqual(changed.data);
    await third.ds.close();

    // a flipped byte inside one record: its checksum fails on read, the cache is dropped, the sample decoded again
    const bytes = await readFile(path);
    bytes[CACHE_HEADER_BYTES + 3 * 8 * 8 * 3 + 5]! ^= 0xff;
    await writeFile(path, bytes);
    const fourth = await loadImageFolder({ path: photos, size: 8, cacheDir });
    const notes: string[] = [];
    fourth.onNote((m) => notes.push(m));
    expect((await fourth.train.get(3)).data).toEqual(changed.data);
    expect(notes.join("\n")).toMatch(/record 3 fails its checksum; it is deleted and rebuilt/);
    await fourth.close();
  });

  it("a truncated file is named with the reason; skipBad replaces it by the next good sample and lists it", async () => {
    const strict = await loadImageFolder({ path: join(dir, "bad"), size: 8, cache: false });
    // names sort: ok0 ok1 ok2-truncated ok2 ok3 ok4-crash ok4 ok5
    const names = (strict.train as PooledFolderSplit).entries.map((e) => e.file.split("/").pop());
    const t = names.indexOf("ok2-truncated.jpg");
    await expect(strict.train.get(t)).rejects.toThrow(
      /ok2-truncated\.jpg: a corrupt or truncated JPEG image: .*skipBad/,
    );
    await strict.close();

    const lenient = await loadImageFolder({ path: join(dir, "bad"), size: 8, cache: false, skipBad: true });
    const seen: string[] = [];
    lenient.onSkip((s) => seen.push(s.file));
    const sub = await lenient.train.get(t);
    const next = await lenient.train.get(t + 1);
    expect(sub.data).toEqual(next.data);
    expect(lenient.skipped.map((s) => s.file.split("/").pop())).toEqual(["ok2-truncated.jpg"]);
    expect(lenient.skipped[0]!.reason).toMatch(/truncated JPEG/);
    expect(seen).toHaveLength(1);
    // a batch over the whole folder keeps training
    const batches = await epochBytes(lenient, 4);
    expect(batches.reduce((n, b) => n + b.length, 0)).toBe(names.length * 8 * 8 * 3);
    await lenient.close();
  });

  it("a worker that dies on a file is replaced; that file is answered as bad, the others decode", async () => {
    const pool = new DecodePool({
      size: 2,
      workerUrl: new URL("./fixtures/crash-worker.mjs", import.meta.url),
    });
    try {
      const job = (name: string) => ({
        file: join(dir, "bad", name),
        height: 8,
        width: 8,
        channels: 3 as const,
        mode: "stretch" as const,
      });
      const results = await Promise.all(
        ["ok0.png", "ok1.png", "ok4-crash.png", "ok3.png", "ok5.png", "ok2.png"].map((n) =>
          pool.decode(job(n)),
        ),
      );
      expect(results.map((r) => r.ok)).toEqual([true, true, false, true, true, true]);
      const crashed = results[2]!;
      expect(crashed.ok ? "" : crashed.reason).toMatch(
        /the decoder crashed on this file \(worker exited with code 7\)/,
      );
      expect(pool.crashes).toBeGreaterThanOrEqual(1);
      // and the pool still works
      expect((await pool.decode(job("ok1.png"))).ok).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
