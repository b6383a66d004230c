/**
 * Pictures of what the masked-image methods learned, as run artifacts:
 *
 * - `renderReconstructions`: a PNG with one row per test image - the input, the masked input
 *   (masked patches in mid gray) and the output (visible patches as given, masked ones predicted) -
 *   for MAE and SimMIM, as the papers' figures show them.
 * - `codebookUsage` / `renderCodebookHistogram`: how often each visual token of a beit-tokenizer is
 *   used on a set of images, as data (JSON) and as a bar chart PNG (codes sorted by use).
 *
 * `writeMimArtifacts(method, dataset, dir)` writes whichever fits the method; the runner calls it
 * at the end of a run of this plugin's methods and stores the files as the run's artifacts.
 */
import { join } from "node:path";
import {
  type Dataset,
  type DatasetSplit,
  fromPatches,
  type Method,
  Rng,
  renderViewsGrid,
  tf,
  toPatches,
  writeFileAtomic,
} from "@selfsup/core";
import { BeitTokenizer } from "./methods/beit-tokenizer.js";
import { MAE } from "./methods/mae.js";
import { SimMIM } from "./methods/simmim.js";
import type { PatchTokenizer } from "./patch-tokenizer.js";
import { codebookPerplexity } from "./vq.js";

/** A method that can redraw masked images (MAE, SimMIM). */
export type Reconstructing = MAE | SimMIM;

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
  const p = method instanceof MAE ? method.vit.patchSize : method.patchSize;
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

export interface MimArtifact {
  /** File name inside the artifact directory. */
  name: string;
  /** What the dashboard shows it as. */
  kind: "image/png" | "application/json";
  description: string;
}

/**
 * Writes the pictures that fit `method` into `dir` (which must exist) and lists them: MAE/SimMIM
 * reconstructions of the first `count` test images (train if no test split); a beit-tokenizer's
 * codebook usage over them (JSON + histogram PNG). Other methods: nothing.
 */
export async function writeMimArtifacts(
  method: Method,
  dataset: Dataset,
  dir: string,
  opts: { count?: number; seed?: number } = {},
): Promise<MimArtifact[]> {
  if (dataset.input.kind !== "image") return [];
  const split = dataset.test ?? dataset.train;
  const out: MimArtifact[] = [];
  if (method instanceof MAE || method instanceof SimMIM) {
    const images = await imageBatch(split, dataset, opts.count ?? 8);
    try {
      await writeFileAtomic(
        join(dir, "reconstructions.png"),
        renderReconstructions(method, images, opts.seed ?? 0),
      );
    } finally {
      images.dispose();
    }
    out.push({
      name: "reconstructions.png",
      kind: "image/png",
      description: `${method.name} reconstructions: input, masked input, output (one test image per row)`,
    });
  } else if (method instanceof BeitTokenizer) {
    const images = await imageBatch(split, dataset, opts.count ?? 256);
    let usage: CodebookUsage;
    try {
      usage = codebookUsage(method.tokenizer, images);
    } finally {
      images.dispose();
    }
    await writeFileAtomic(join(dir, "codebook-usage.json"), `${JSON.stringify(usage)}\n`);
    await writeFileAtomic(join(dir, "codebook-usage.png"), renderCodebookHistogram(usage));
    out.push(
      {
        name: "codebook-usage.json",
        kind: "application/json",
        description: `visual-token counts over ${usage.patches} test patches (perplexity ${usage.perplexity.toFixed(1)} of ${usage.codebookSize})`,
      },
      {
        name: "codebook-usage.png",
        kind: "image/png",
        description: "codebook usage histogram, codes sorted by use",
      },
    );
  }
  return out;
}
