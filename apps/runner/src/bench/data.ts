/**
 * `pnpm bench data`: how fast a user's own folder of photos feeds training.
 *
 * Generates (once, under the OS temp folder) 2,000 photo-like 500x375 JPEGs and a few 3000x4000
 * ones, then measures, at each sample size (64 and 96 px by default), side by side in one process:
 *
 *   - loader alone: images/s of one epoch of the DataLoader (decode + resize + batch tensor, no
 *     model) with today's loader (`decoder: "js"`: pure-JS decode on the training thread, one batch
 *     ahead; on the first `--today` files, as it is slow), the worker pool with a cold cache (the
 *     first epoch, which also writes the cache), the warm cache in memory and the warm cache
 *     streamed from disk (`memoryBudgetMB: 0`, with the peak RSS);
 *   - a SimCLR step fed by it (convnet, batch 64, SimCLR's default augmentations, the run's
 *     yield-every-step callback, as `selfsup train` runs it): images/s of each epoch, against the
 *     same step on in-memory synthetic tensors of the same size (epochs after the first; the cold
 *     row is the first epoch, when the cache is written).
 *
 * Options: --backend <name> (default auto: tensorflow where `selfsup backend build-native` ran),
 * --images N (2000), --big N (3000x4000 files, 16), --today N (400), --sizes 64,96, --epochs N
 * (3), --batch N (64), --workers N, --no-step (loader rows only).
 */
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  ArraySplit,
  buildPipeline,
  DataLoader,
  type Dataset,
  type DatasetSplit,
  initBackend,
  loadImageFolder,
  makeViews,
  type PooledFolderSplit,
  Trainer,
} from "@selfsup/core";
import sharp from "sharp";
import { parseRunConfig, resolveRunConfig } from "../config.js";
import { loadRegistry } from "../plugins.js";
import { augmentationSteps, buildMethod } from "../run/build.js";
import { yieldEveryStep } from "../run/callbacks.js";
import { limitSplit } from "../run/dataset.js";

interface Args {
  backend: string;
  images: number;
  big: number;
  today: number;
  sizes: number[];
  epochs: number;
  batch: number;
  workers?: number;
  step: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    backend: "auto",
    images: 2000,
    big: 16,
    today: 400,
    sizes: [64, 96],
    epochs: 3,
    batch: 64,
    step: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === "--backend") a.backend = v();
    else if (k === "--images") a.images = Number(v());
    else if (k === "--big") a.big = Number(v());
    else if (k === "--today") a.today = Number(v());
    else if (k === "--sizes") a.sizes = v().split(",").map(Number);
    else if (k === "--epochs") a.epochs = Number(v());
    else if (k === "--batch") a.batch = Number(v());
    else if (k === "--workers") a.workers = Number(v());
    else if (k === "--no-step") a.step = false;
    else if (k !== "data") throw new Error(`unknown option ${k}`);
  }
  return a;
}

/**
 * A deterministic photo-like picture: soft blobs over a gradient drawn at 1/8 size, enlarged, then
 * grain per pixel (so the JPEGs come out photo-sized, about 35 KB at 500x375).
 */
async function photo(w: number, h: number, seed: number): Promise<Buffer> {
  let s = (seed * 2654435761) >>> 0 || 1;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const lw = Math.ceil(w / 8);
  const lh = Math.ceil(h / 8);
  const base = [rnd() * 255, rnd() * 255, rnd() * 255];
  const grad = [rnd() - 0.5, rnd() - 0.5, rnd() - 0.5];
  const blobs = Array.from({ length: 8 }, () => ({
    x: rnd() * lw,
    y: rnd() * lh,
    r: (0.04 + rnd() * 0.2) * Math.min(lw, lh),
    c: [rnd() * 255, rnd() * 255, rnd() * 255],
  }));
  const low = Buffer.alloc(lw * lh * 3);
  for (let y = 0; y < lh; y++) {
    for (let x = 0; x < lw; x++) {
      let wsum = 1;
      const px = [0, 1, 2].map((k) => base[k]! + grad[k]! * (x + y) * (255 / (lw + lh)));
      for (const b of blobs) {
        const d2 = ((x - b.x) ** 2 + (y - b.y) ** 2) / (b.r * b.r);
        if (d2 < 6) {
          const wt = Math.exp(-d2) * 3;
          wsum += wt;
          for (let k = 0; k < 3; k++) px[k]! += b.c[k]! * wt;
        }
      }
      for (let k = 0; k < 3; k++) low[(y * lw + x) * 3 + k] = Math.max(0, Math.min(255, px[k]! / wsum));
    }
  }
  const big = await sharp(low, { raw: { width: lw, height: lh, channels: 3 } })
    .resize(w, h, { kernel: "cubic" })
    .raw()
    .toBuffer();
  for (let i = 0; i < big.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const v = big[i]! + ((s & 31) - 16);
    big[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return big;
}

async function ensurePhotos(dir: string, n: number, w: number, h: number): Promise<{ bytes: number }> {
  await mkdir(dir, { recursive: true });
  const have = new Set(await readdir(dir));
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const name = `photo-${String(i).padStart(5, "0")}.jpg`;
    const file = path.join(dir, name);
    if (!have.has(name)) {
      await sharp(await photo(w, h, i + w), { raw: { width: w, height: h, channels: 3 } })
        .jpeg({ quality: 90 })
        .toFile(file);
    }
    bytes += (await stat(file)).size;
  }
  // a folder from a larger earlier run: leave only the first n
  for (const name of have)
    if (name > `photo-${String(n - 1).padStart(5, "0")}.jpg`) await rm(path.join(dir, name));
  return { bytes };
}

/** One epoch of the DataLoader: images/s and peak RSS (MiB). */
async function loaderEpoch(split: DatasetSplit, batch: number): Promise<{ ips: number; rssMb: number }> {
  const loader = new DataLoader(split, { batchSize: batch, seed: 1 });
  let rss = 0;
  const t0 = performance.now();
  let n = 0;
  for await (const b of loader) {
    n += b.indices.length;
    b.inputs.dispose();
    b.labels?.dispose();
    rss = Math.max(rss, process.memoryUsage().rss);
  }
  return { ips: (n * 1000) / (performance.now() - t0), rssMb: rss / 2 ** 20 };
}

type Registry = Awaited<ReturnType<typeof loadRegistry>>["registry"];

/** SimCLR (convnet, its default augmentations) for `epochs` on `dataset`: images/s of each epoch. */
async function stepEpochs(registry: Registry, dataset: Dataset, args: Args): Promise<number[]> {
  const raw = parseRunConfig({
    method: { name: "simclr" },
    backbone: { name: "convnet" },
    dataset: { name: "synthetic" },
    training: { epochs: args.epochs, batchSize: args.batch, seed: 0 },
  });
  const cfg = resolveRunConfig(raw, registry, dataset.input);
  const method = buildMethod(registry, cfg, dataset.input);
  const pipeline = buildPipeline(registry, augmentationSteps(cfg, method, dataset.input));
  const stamps: number[] = [];
  const trainer = new Trainer({
    method,
    dataset,
    config: cfg.training,
    augment: (x, n, rng) => makeViews(pipeline, x, n, rng),
    callbacks: [yieldEveryStep(), { onEpochEnd: () => void stamps.push(performance.now()) }],
  });
  const t0 = performance.now();
  try {
    await trainer.fit();
  } finally {
    trainer.dispose();
    method.dispose();
  }
  const per = dataset.train.size;
  return stamps.map((t, i) => (per * 1000) / (t - (i === 0 ? t0 : stamps[i - 1]!)));
}

const fmt = (v: number | undefined) =>
  v === undefined ? "-" : v >= 1000 ? Math.round(v).toLocaleString("en-US") : v.toFixed(v >= 100 ? 0 : 1);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const backend = await initBackend(args.backend as Parameters<typeof initBackend>[0]);
  const root = path.join(os.tmpdir(), "selfsup-bench-data");
  const say = (l: string) => process.stdout.write(`${l}\n`);
  say(`data bench: backend ${backend.backend}, ${os.availableParallelism()} cores, batch ${args.batch}`);
  const t0 = performance.now();
  const photos = path.join(root, "photos-500x375");
  const small = await ensurePhotos(photos, args.images, 500, 375);
  const bigDir = path.join(root, "photos-3000x4000");
  const big = args.big > 0 ? await ensurePhotos(bigDir, args.big, 3000, 4000) : { bytes: 0 };
  say(
    `  ${args.images} JPEGs 500x375 (${(small.bytes / 2 ** 20).toFixed(0)} MB), ${args.big} JPEGs 3000x4000 (${(big.bytes / 2 ** 20).toFixed(0)} MB) in ${root} (ready in ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
  const { registry } = args.step ? await loadRegistry() : { registry: undefined };
  const rows: string[][] = [];
  const head = ["size", "data", "loader alone img/s", "SimCLR step img/s", "% of synthetic", "peak RSS MiB"];
  const workers = args.workers !== undefined ? { workers: args.workers } : {};
  for (const size of args.sizes) {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), "selfsup-bench-cache-"));
    try {
      // synthetic tensors of the same size, in memory: the step alone
      let synth: number | undefined;
      if (registry) {
        const len = size * size * 3;
        const values = new Float32Array(args.images * len);
        for (let i = 0; i < values.length; i++) values[i] = ((i * 2654435761) >>> 24) / 255;
        const input = { kind: "image" as const, height: size, width: size, channels: 3 as const };
        const order = Array.from({ length: args.images }, (_, i) => i);
        const ds: Dataset = {
          name: "synthetic",
          input,
          train: new ArraySplit("synthetic", input, values, undefined, order),
        };
        const e = await stepEpochs(registry, ds, args);
        synth = mean(e.slice(1));
        rows.push([`${size}`, `synthetic tensors (${args.images})`, "-", fmt(synth), "100%", "-"]);
      }
      const pct = (v: number | undefined) =>
        v === undefined || !synth ? "-" : `${Math.round((100 * v) / synth)}%`;

      // today's loader: pure-JS decode on this thread, one batch ahead, an LRU of 256 samples
      const today = await loadImageFolder({ path: photos, size, decoder: "js" });
      const todaySplit = limitSplit(today.train, args.today);
      const tl = await loaderEpoch(todaySplit, args.batch);
      let ts: number | undefined;
      if (registry) {
        const e = await stepEpochs(
          registry,
          { ...today, name: "image-folder", train: todaySplit },
          { ...args, epochs: 2 },
        );
        ts = e[1];
      }
      rows.push([
        `${size}`,
        `today: js decode (first ${args.today})`,
        fmt(tl.ips),
        fmt(ts),
        pct(ts),
        fmt(tl.rssMb),
      ]);

      // workers, cold: the first epoch, which also writes the cache
      const cold = await loadImageFolder({ path: photos, size, cacheDir, ...workers });
      const cl = await loaderEpoch(cold.train, args.batch);
      await (cold.train as PooledFolderSplit).whenCached();
      await cold.close();
      rows.push([`${size}`, "workers, cold (writes cache)", fmt(cl.ips), "", "", fmt(cl.rssMb)]);
      // warm: in memory, then streamed
      const warm = await loadImageFolder({ path: photos, size, cacheDir, ...workers });
      const wl = await loaderEpoch(warm.train, args.batch);
      await warm.close();
      const streamed = await loadImageFolder({ path: photos, size, cacheDir, memoryBudgetMB: 0, ...workers });
      const sl = await loaderEpoch(streamed.train, args.batch);
      await streamed.close();
      rows.push([`${size}`, "cache warm, in memory", fmt(wl.ips), "", "", fmt(wl.rssMb)]);
      rows.push([`${size}`, "cache warm, streamed (budget 0)", fmt(sl.ips), "", "", fmt(sl.rssMb)]);

      if (registry) {
        // training from a cold cache: epoch 1 decodes (and writes), epochs 2.. read the cache
        await rm(cacheDir, { recursive: true, force: true });
        const run = await loadImageFolder({ path: photos, size, cacheDir, ...workers });
        const e = await stepEpochs(registry, run, args);
        await run.close();
        rows.push([`${size}`, "SimCLR on the folder: epoch 1 (cold)", "", fmt(e[0]), pct(e[0]), ""]);
        const later = mean(e.slice(1));
        rows.push([
          `${size}`,
          `SimCLR on the folder: epochs 2-${args.epochs} (cache)`,
          "",
          fmt(later),
          pct(later),
          "",
        ]);
      }
      if (args.big > 0) {
        const bigCold = await loadImageFolder({ path: bigDir, size, cache: false, ...workers });
        const bl = await loaderEpoch(bigCold.train, Math.min(args.batch, args.big));
        await bigCold.close();
        const bigToday = await loadImageFolder({ path: bigDir, size, decoder: "js" });
        const bt = await loaderEpoch(
          limitSplit(bigToday.train, Math.min(4, args.big)),
          Math.min(4, args.big),
        );
        rows.push([`${size}`, "3000x4000: today, js (first 4)", fmt(bt.ips), "", "", fmt(bt.rssMb)]);
        rows.push([`${size}`, "3000x4000: workers, no cache", fmt(bl.ips), "", "", fmt(bl.rssMb)]);
      }
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  }
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => (r[k] ?? "").length)));
  const line = (r: string[]) =>
    r.map((c, k) => (k < 2 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join("  ");
  say("");
  say(line(head));
  for (const r of rows) say(line(r));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`data bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
