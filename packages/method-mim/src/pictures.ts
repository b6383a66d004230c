/**
 * Pictures of what the masked-image methods learned, as run artifacts. Each method's
 * `writeArtifacts` calls the writer that fits what it has; this file knows no method class.
 *
 * - `writeReconstructions` / `renderReconstructions`: a PNG with one row per test image - the
 *   input, the masked input (masked patches in mid gray) and the output (visible patches as given,
 *   masked ones predicted) - for MAE and SimMIM, as the papers' figures show them.
 * - `writeCodebookUsage` / `codebookUsage` / `renderCodebookHistogram`: how often each visual
 *   token of a beit-tokenizer is used on a set of images, as data (JSON) and as a bar chart PNG
 *   (codes sorted by use).
 */
import { join } from "node:path";
import {
  type Dataset,
  type DatasetSplit,
  fromPatches,
  type MethodArtifact,
  Rng,
  renderViewsGrid,
  tf,
  toPatches,
  writeFileAtomic,
} from "@selfsup/core";
import type { PatchTokenizer } from "./patch-tokenizer.js";
import { codebookPerplexity } from "./vq.js";

/** A method that can redraw masked images (MAE, SimMIM: see masked-image-method.ts). */
export interface Reconstructing {
  readonly name: string;
  readonly patchSize: number;
  drawMask(batch: number, rng: Rng): tf.Tensor2D;
  reconstruct(x: tf.Tensor, mask: tf.Tensor): tf.Tensor4D;
}

export interface PictureOptions {
  /** Images drawn (default 8 reconstructions; 256 images for codebook usage). */
  count?: number;
  /** Seed of the reconstructions' mask (default 0). */
  seed?: number;
}

/** The first `count` images of a split as one batch [count, H, W, C]. */
export async function imageBatch(split: DatasetSplit, dataset: Dataset, count: number): Promise<tf.Tensor4D> {
  const input = dataset.input;
  if (input.kind !== "image")
    throw new Error(`pictures need an image dataset, "${dataset.name}" holds ${input.kind}`);
  const n = Math.min(count, split.size);
  const size = input.height * input.width * input.channels;
  const values = new Float32Array(n * size);
  for (let i = 0; i < n; i++) values.set((await split.get(i)).data as Float32Array, i * size);
  return tf.tensor4d(values, [n, input.height, input.width, input.channels]);
}

/** Rows of [input, masked input, reconstruction] for `images` under a mask drawn from `seed`. */
export function renderReconstructions(method: Reconstructing, images: tf.Tensor4D, seed = 0): Buffer {
  const n = images.shape[0];
  const [, h, w] = images.shape;
  const p = method.patchSize;
  const mask = method.drawMask(n, new Rng(seed));
  const out = method.reconstruct(images, mask);
  const rows = tf.tidy(() => {
    const m = tf.expandDims(mask, 2);
    const masked = fromPatches(tf.add(tf.mul(toPatches(images, p), tf.sub(1, m)), tf.mul(m, 0.5)), p, h, w);
    return tf.unstack(tf.stack([images, masked, out], 1)); // n rows of [3, H, W, C]
  });
  try {
    return renderViewsGrid(rows);
  } finally {
    tf.dispose([mask, out, ...rows]);
  }
}

export interface CodebookUsage {
  codebookSize: number;
  /** Patches assigned to each code. */
  counts: number[];
  /** exp(entropy) of the usage: K = every code used evenly, 1 = a single code. */
  perplexity: number;
  /** Codes used by at least one patch. */
  usedCodes: number;
  patches: number;
}

/** Token counts of a tokenizer over `images` [B, H, W, C]. */
export function codebookUsage(tokenizer: PatchTokenizer, images: tf.Tensor4D): CodebookUsage {
  const k = tokenizer.spec.codebookSize;
  const ids = tokenizer.tokenize(images);
  const data = ids.dataSync();
  ids.dispose();
  const counts = new Array<number>(k).fill(0);
  for (const id of data) counts[id] = (counts[id] ?? 0) + 1;
  return {
    codebookSize: k,
    counts,
    perplexity: codebookPerplexity(counts),
    usedCodes: counts.filter((c) => c > 0).length,
    patches: data.length,
  };
}

/**
 * A bar chart of code usage (codes sorted by count, tallest left), as PNG bytes. Bar height is
 * log(1 + count) / log(1 + max count): on digits one code (the blank patch) takes most patches,
 * and a linear scale would hide every other code.
 */
export function renderCodebookHistogram(usage: CodebookUsage, height = 64): Buffer {
  const sorted = [...usage.counts].sort((a, b) => b - a);
  const max = Math.log1p(Math.max(1, sorted[0] ?? 1));
  const barWidth = Math.max(1, Math.floor(256 / sorted.length));
  const width = sorted.length * barWidth;
  const pixels = new Float32Array(height * width);
  sorted.forEach((c, i) => {
    const top = height - Math.round((Math.log1p(c) / max) * height);
    for (let y = top; y < height; y++)
      for (let x = i * barWidth; x < (i + 1) * barWidth - (barWidth > 2 ? 1 : 0); x++)
        pixels[y * width + x] = 1;
  });
  const img = tf.tensor3d(pixels, [height, width, 1]);
  try {
    return renderViewsGrid([img], { scale: 2 });
  } finally {
    img.dispose();
  }
}

/** The split pictures are drawn from: test, else train. */
function pictureSplit(dataset: Dataset): DatasetSplit {
  return dataset.test ?? dataset.train;
}

/** Writes `reconstructions.png` (renderReconstructions of the first test images) into `dir`. */
export async function writeReconstructions(
  method: Reconstructing,
  dataset: Dataset,
  dir: string,
  opts: PictureOptions = {},
): Promise<MethodArtifact[]> {
  if (dataset.input.kind !== "image") return [];
  const images = await imageBatch(pictureSplit(dataset), dataset, opts.count ?? 8);
  try {
    await writeFileAtomic(
      join(dir, "reconstructions.png"),
      renderReconstructions(method, images, opts.seed ?? 0),
    );
  } finally {
    images.dispose();
  }
  return [
    {
      name: "reconstructions.png",
      mime: "image/png",
      description: `${method.name} reconstructions: input, masked input, output (one test image per row)`,
    },
  ];
}

/** Writes `codebook-usage.json` and its histogram `codebook-usage.png` into `dir`. */
export async function writeCodebookUsage(
  tokenizer: PatchTokenizer,
  dataset: Dataset,
  dir: string,
  opts: PictureOptions = {},
): Promise<MethodArtifact[]> {
  if (dataset.input.kind !== "image") return [];
  const images = await imageBatch(pictureSplit(dataset), dataset, opts.count ?? 256);
  let usage: CodebookUsage;
  try {
    usage = codebookUsage(tokenizer, images);
  } finally {
    images.dispose();
  }
  await writeFileAtomic(join(dir, "codebook-usage.json"), `${JSON.stringify(usage)}\n`);
  await writeFileAtomic(join(dir, "codebook-usage.png"), renderCodebookHistogram(usage));
  return [
    {
      name: "codebook-usage.json",
      mime: "application/json",
      description: `visual-token counts over ${usage.patches} test patches (perplexity ${usage.perplexity.toFixed(1)} of ${usage.codebookSize})`,
    },
    {
      name: "codebook-usage.png",
      mime: "image/png",
      description: "codebook usage histogram, codes sorted by use",
    },
  ];
}
