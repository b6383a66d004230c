/**
 * `pnpm bench data`: how fast a user's own folder of photos feeds training.
 *
 * Generates (once, kept under the OS temp folder) 2,000 photo-like 500x375 JPEGs and a few
 * 3000x4000 ones, then measures at each sample size (64 and 96 px by default), in one process:
 *
 *   - the loader alone: one epoch of the DataLoader (decode + resize + batch tensor, no model) with
 *     today's loader (`decoder: "js"`: pure-JS decode on the training thread, one batch ahead; on
 *     the first `--today` files, as it is slow), the worker pool with a cold cache (the epoch that
 *     writes it), the warm cache streamed from disk (`memoryBudgetMB: 0`: 1 MiB chunks in the
 *     streamed order) and in memory, each as the first epoch of a load (opening the cache, CRCs)
 *     and as epochs 2.. of that load (`--warm-epochs`, 5), and the 3000x4000 photos both ways;
 *   - a SimCLR step (convnet, batch 64, its default augmentations, the run's yield-every-step
 *     callback, as `selfsup train` runs it) on in-memory synthetic tensors of the same size (after a
 *     warm-up epoch), fed by today's loader, fed by the pool from a cold cache (epoch 1) and by the
 *     cache (epochs 2..); synthetic and cache epochs take turns, so both see the same machine load.
 *
 * Columns: images/s (wall clock); CPU per image over every thread of this process (decode
 * workers, libvips and tfjs included: steadier than wall clock on a shared machine, though load
 * inflates it too); RSS at the start of the epoch and its growth during it; the step's images/s as
 * a share of the synthetic step's.
 *
 * Options: --backend <name> (default auto: tensorflow where `selfsup backend build-native` ran),
 * --images N (2000), --big N (3000x4000 files, 16), --today N (400), --sizes 64,96, --epochs N
 * (3), --batch N (64), --workers N, --warm-epochs N (5), --no-step (loader rows only).
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
  warmEpochs: number;
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
    warmEpochs: 5,
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
    else if (k === "--warm-epochs") a.warmEpochs = Math.max(1, Number(v()));
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
  const grain = new Uint8ClampedArray(big.buffer, big.byteOffset, big.length); // stores clamp to 0-255
  for (let i = 0; i < grain.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    grain[i] = grain[i]! + ((s & 31) - 16);
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

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

interface Measured {
  /** images per second, wall clock */
  ips: number;
  /** CPU ms per image, every thread of this process (decode workers, libvips, tfjs included) */
  cpuMsPer: number;
}

/** One epoch of the DataLoader: images/s, CPU per image, RSS at the start and its growth (MiB). */
async function loaderEpoch(
  split: DatasetSplit,
  batch: number,
  epoch = 0,
): Promise<Measured & { rssMb: number; growMb: number }> {
  const loader = new DataLoader(split, { batchSize: batch, seed: 1 }).setEpoch(epoch);
  const rss0 = process.memoryUsage().rss;
  let rss = rss0;
  const t0 = performance.now();
  const c0 = cpuMs();
  let n = 0;
  for await (const b of loader) {
    n += b.indices.length;
    b.inputs.dispose();
    b.labels?.dispose();
    rss = Math.max(rss, process.memoryUsage().rss);
  }
  return {
    ips: (n * 1000) / (performance.now() - t0),
    cpuMsPer: (cpuMs() - c0) / n,
    rssMb: rss0 / 2 ** 20,
    growMb: (rss - rss0) / 2 ** 20,
  };
}

type Registry = Awaited<ReturnType<typeof loadRegistry>>["registry"];

/**
 * SimCLR (convnet, its default augmentations) on `dataset`, one epoch per `epoch()` call on the same
 * method (a fresh Trainer each time), so steps on different data can be measured in turns.
 */
function stepper(
  registry: Registry,
  dataset: Dataset,
  args: Args,
): { epoch(): Promise<Measured>; dispose(): void } {
  const raw = parseRunConfig({
    method: { name: "simclr" },
    backbone: { name: "convnet" },
    dataset: { name: "synthetic" },
    training: { epochs: 1, batchSize: args.batch, seed: 0 },
  });
  const cfg = resolveRunConfig(raw, registry, dataset.input);
  const method = buildMethod(registry, cfg, dataset.input);
  const pipeline = buildPipeline(registry, augmentationSteps(cfg, method, dataset.input));
  return {
    async epoch() {
      const trainer = new Trainer({
        method,
        dataset,
        config: cfg.training,
        augment: (x, n, rng) => makeViews(pipeline, x, n, rng),
        callbacks: [yieldEveryStep()],
      });
      const t0 = performance.now();
      const c0 = cpuMs();
      try {
        await trainer.fit();
      } finally {
        trainer.dispose();
      }
      const n = dataset.train.size;
      return { ips: (n * 1000) / (performance.now() - t0), cpuMsPer: (cpuMs() - c0) / n };
    },
    dispose: () => method.dispose(),
  };
}

const fmt = (v: number | undefined) =>
  v === undefined ? "-" : v >= 1000 ? Math.round(v).toLocaleString("en-US") : v.toFixed(v >= 100 ? 0 : 1);
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
/** Epochs pooled: images/s from the summed times, CPU per image averaged. */
const pooled = (ms: Measured[]): Measured => ({
  ips: 1 / mean(ms.map((m) => 1 / m.ips)),
  cpuMsPer: mean(ms.map((m) => m.cpuMsPer)),
});

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
  say(
    "  loader: one epoch of the DataLoader (decode + resize + batch tensor); SimCLR: convnet, its default augmentations;",
  );
  say(
    "  CPU: ms of CPU per image over every thread of this process (load-independent); RSS: at the start +growth during",
  );
  const head = [
    "size",
    "data",
    "loader img/s",
    "CPU µs/img",
    "RSS MiB",
    "SimCLR img/s",
    "CPU ms/img",
    "vs synthetic",
  ];
  const widths = [4, 40, 12, 10, 12, 12, 10, 12];
  const line = (r: string[]) =>
    r.map((c, k) => (k < 2 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join("  ");
  say("");
  say(line(head));
  const workers = args.workers !== undefined ? { workers: args.workers } : {};
  for (const size of args.sizes) {
    const cacheDir = await mkdtemp(path.join(os.tmpdir(), "selfsup-bench-cache-"));
    let synth: Measured | undefined;
    const row = (what: string, l?: Awaited<ReturnType<typeof loaderEpoch>>, st?: Measured) =>
      say(
        line([
          `${size}`,
          what,
          l ? fmt(l.ips) : "",
          l ? fmt(l.cpuMsPer * 1000) : "",
          l ? `${fmt(l.rssMb)} +${fmt(Math.max(0, l.growMb))}` : "",
          st ? fmt(st.ips) : "",
          st ? st.cpuMsPer.toFixed(2) : "",
          st && synth ? `${Math.round((100 * st.ips) / synth.ips)}%` : "",
        ]),
      );
    try {
      // the loader alone: today's, the pool cold (it writes the cache), the cache warm
      const today = await loadImageFolder({ path: photos, size, decoder: "js" });
      const todaySplit = limitSplit(today.train, args.today);
      row(`today: js decode (first ${args.today})`, await loaderEpoch(todaySplit, args.batch));
      const cold = await loadImageFolder({ path: photos, size, cacheDir, ...workers });
      row("workers, cold (writes the cache)", await loaderEpoch(cold.train, args.batch));
      await (cold.train as PooledFolderSplit).whenCached();
      await cold.close();
      // the warm cache: the first epoch of a load (opens the file, checks each record's CRC in
      // memory), then epochs 2.. of the same load (steady state; one epoch is ~0.1 s, so pooled)
      for (const budget of [0, undefined]) {
        const what = budget === 0 ? "streamed (memoryBudgetMB 0)" : "in memory";
        const warm = await loadImageFolder({
          path: photos,
          size,
          cacheDir,
          ...workers,
          ...(budget === 0 ? { memoryBudgetMB: 0 } : {}),
        });
        row(`cache warm, ${what}: 1st epoch`, await loaderEpoch(warm.train, args.batch));
        const more: Array<Awaited<ReturnType<typeof loaderEpoch>>> = [];
        for (let e = 1; e <= args.warmEpochs; e++) more.push(await loaderEpoch(warm.train, args.batch, e));
        const p = pooled(more);
        row(`cache warm, ${what}: epochs 2-${args.warmEpochs + 1}`, {
          ...p,
          rssMb: more[0]!.rssMb,
          growMb: Math.max(...more.map((m) => m.rssMb + m.growMb)) - more[0]!.rssMb,
        });
        await warm.close();
      }
      if (args.big > 0) {
        const bigToday = await loadImageFolder({ path: bigDir, size, decoder: "js" });
        const n = Math.min(4, args.big);
        row(`3000x4000: today, js (first ${n})`, await loaderEpoch(limitSplit(bigToday.train, n), n));
        const bigCold = await loadImageFolder({ path: bigDir, size, cache: false, ...workers });
        row(
          "3000x4000: workers (no cache)",
          await loaderEpoch(bigCold.train, Math.min(args.batch, args.big)),
        );
        await bigCold.close();
      }
      if (registry) {
        // the step on synthetic tensors of the same size, in memory (epochs after the first)
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
        const synthStep = stepper(registry, ds, args);
        await synthStep.epoch(); // warm-up
        // today's loader feeding it, its 2nd epoch; its LRU of 256 samples is off here: on the whole
        // folder (2,000 files, shuffled) it would hit about one read in eight, on the subset every one
        const noLru = await loadImageFolder({ path: photos, size, decoder: "js", cacheSize: 0 });
        const todayStep = stepper(
          registry,
          { ...noLru, name: "image-folder", train: limitSplit(noLru.train, args.today) },
          args,
        );
        await todayStep.epoch();
        const todayFed = await todayStep.epoch();
        todayStep.dispose();
        // the pool from a cold cache: epoch 1 decodes (and writes), the next ones read the cache;
        // they take turns with epochs on synthetic tensors, so both see the same machine load
        await rm(cacheDir, { recursive: true, force: true });
        const run = await loadImageFolder({ path: photos, size, cacheDir, ...workers });
        const folderStep = stepper(registry, run, args);
        const cold = await folderStep.epoch();
        const synthEpochs: Measured[] = [];
        const cacheEpochs: Measured[] = [];
        for (let r = 0; r < Math.max(1, args.epochs - 1); r++) {
          synthEpochs.push(await synthStep.epoch());
          cacheEpochs.push(await folderStep.epoch());
        }
        folderStep.dispose();
        synthStep.dispose();
        await run.close();
        synth = pooled(synthEpochs);
        row(`SimCLR on synthetic tensors (${args.images})`, undefined, synth);
        row(`SimCLR fed by today's loader (first ${args.today})`, undefined, todayFed);
        row("SimCLR fed by workers: epoch 1 (cold)", undefined, cold);
        row(`SimCLR fed by the cache: epochs 2-${cacheEpochs.length + 1}`, undefined, pooled(cacheEpochs));
      }
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`data bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
