/**
 * Pictures of what a pipeline does: a grid with one row per sample (the original, then its views),
 * written as PNG. `selfsup augment --preview` calls `writeAugmentPreview`; looking at the views is
 * the fastest way to catch a pipeline that destroys the content (crops too small for digits, ...).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import pngjs from "pngjs";
import type { Augmentation, AugmentationConfig, Dataset } from "../plugin/types.js";
import { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { builtinAugmentations } from "./builtins.js";
import { type AugmentationLookup, buildPipeline, makeViews } from "./pipeline.js";
import { defaultPipelineFor } from "./presets.js";

export interface GridOptions {
  /** Integer upscaling factor (nearest neighbour); default: enough to make a cell >= 96 px. */
  scale?: number;
  /** Pixels between cells. */
  padding?: number;
  /** How values map to [0,255]: clip to [0,1], or stretch each image's min..max (normalised inputs). */
  range?: "clip" | "minmax";
  /** Background gray level in [0,255]. */
  background?: number;
}

/**
 * Renders rows of images as one PNG. Each element of `rows` is one row: a [V,H,W,C] batch (or a
 * single [H,W,C] image), C = 1 or 3; all cells share H, W. Returns the PNG file's bytes.
 */
export function renderViewsGrid(rows: tf.Tensor[], opts: GridOptions = {}): Buffer {
  if (rows.length === 0) throw new Error("renderViewsGrid: no rows to render");
  const cells: Array<{ data: Float32Array | Int32Array | Uint8Array; h: number; w: number; c: number }[]> =
    [];
  let h = 0;
  let w = 0;
  for (const [r, row] of rows.entries()) {
    if (row.rank !== 3 && row.rank !== 4)
      throw new Error(
        `renderViewsGrid: row ${r} has shape [${row.shape.join(",")}], expected [V,H,W,C] or [H,W,C]`,
      );
    const [v, rh, rw, rc] = (row.rank === 3 ? [1, ...row.shape] : row.shape) as [
      number,
      number,
      number,
      number,
    ];
    if (rc !== 1 && rc !== 3)
      throw new Error(`renderViewsGrid: row ${r} has ${rc} channels; only 1 or 3 can be drawn`);
    if (r === 0) [h, w] = [rh, rw];
    else if (rh !== h || rw !== w)
      throw new Error(`renderViewsGrid: row ${r} has ${rh}x${rw} images, row 0 has ${h}x${w}`);
    const all = row.dataSync() as Float32Array;
    const size = rh * rw * rc;
    cells.push(
      Array.from({ length: v }, (_, i) => ({
        data: all.subarray(i * size, (i + 1) * size),
        h: rh,
        w: rw,
        c: rc,
      })),
    );
  }
  const scale = opts.scale ?? Math.max(1, Math.ceil(96 / Math.max(h, w)));
  const pad = opts.padding ?? 2;
  const cols = Math.max(...cells.map((r) => r.length));
  const cw = w * scale;
  const ch = h * scale;
  const width = pad + cols * (cw + pad);
  const height = pad + cells.length * (ch + pad);
  const png = new pngjs.PNG({ width, height });
  png.data.fill(opts.background ?? 40);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  cells.forEach((row, r) => {
    row.forEach((cell, col) => {
      let lo = 0;
      let hi = 1;
      if (opts.range === "minmax") {
        lo = Infinity;
        hi = -Infinity;
        for (const v of cell.data) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        if (!(hi > lo)) hi = lo + 1;
      }
      const x0 = pad + col * (cw + pad);
      const y0 = pad + r * (ch + pad);
      for (let y = 0; y < ch; y++) {
        const sy = Math.floor(y / scale);
        for (let x = 0; x < cw; x++) {
          const sx = Math.floor(x / scale);
          const o = ((y0 + y) * width + x0 + x) * 4;
          for (let k = 0; k < 3; k++) {
            const v = cell.data[(sy * cell.w + sx) * cell.c + (cell.c === 3 ? k : 0)]!;
            png.data[o + k] = Math.round(Math.min(1, Math.max(0, (v - lo) / (hi - lo))) * 255);
          }
        }
      }
    });
  });
  return pngjs.PNG.sync.write(png);
}

export interface AugmentPreviewOptions {
  dataset: Dataset;
  /** A built pipeline or config steps; default: `defaultPipelineFor(dataset.input)`. */
  pipeline?: Augmentation | readonly AugmentationConfig[];
  /** Where config steps are looked up (a registry, to include plugins); default: the built-ins. */
  lookup?: AugmentationLookup;
  /** Number of samples (rows). */
  count?: number;
  /** Views per sample (columns after the original). */
  views?: number;
  /** PNG file to write; its folder is created. */
  out: string;
  seed?: number;
  split?: "train" | "test";
  grid?: GridOptions;
}

export interface AugmentPreviewResult {
  out: string;
  width: number;
  height: number;
  /** Dataset indices shown, one per row. */
  indices: number[];
}

/** Writes a PNG grid of `count` random samples of the dataset, each followed by `views` views. */
export async function writeAugmentPreview(opts: AugmentPreviewOptions): Promise<AugmentPreviewResult> {
  const { dataset } = opts;
  const input = dataset.input;
  if (input.kind !== "image") {
    throw new Error(
      `writeAugmentPreview: dataset "${dataset.name}" holds ${input.kind}, only image datasets can be previewed`,
    );
  }
  const split = opts.split === "test" ? dataset.test : dataset.train;
  if (!split) throw new Error(`writeAugmentPreview: dataset "${dataset.name}" has no ${opts.split} split`);
  const count = Math.min(opts.count ?? 8, split.size);
  const nViews = opts.views ?? 4;
  const rng = new Rng(opts.seed ?? 0);
  const indices = rng.shuffle(Array.from({ length: split.size }, (_, i) => i)).slice(0, count);
  const samples = await Promise.all(indices.map((i) => split.get(i)));
  const pipeline =
    opts.pipeline === undefined || Array.isArray(opts.pipeline)
      ? buildPipeline(
          opts.lookup ?? builtinAugmentations,
          (opts.pipeline as readonly AugmentationConfig[] | undefined) ?? defaultPipelineFor(input),
        )
      : (opts.pipeline as Augmentation);
  const { height, width, channels } = input;
  const size = height * width * channels;
  const flat = new Float32Array(count * size);
  samples.forEach((s, i) => {
    if (s.data.length !== size) {
      throw new Error(
        `writeAugmentPreview: sample ${indices[i]} of "${dataset.name}" has ${s.data.length} values, expected ${height}x${width}x${channels} = ${size}`,
      );
    }
    flat.set(s.data, i * size);
  });
  let png: Buffer = Buffer.alloc(0);
  tf.tidy(() => {
    const x = tf.tensor4d(flat, [count, height, width, channels]);
    const views = makeViews(pipeline, x, nViews, rng);
    const rows = indices.map((_, i) => tf.stack([x, ...views].map((t) => tf.gather(t, i))));
    png = renderViewsGrid(rows, opts.grid);
  });
  await mkdir(dirname(opts.out), { recursive: true });
  await writeFile(opts.out, png);
  return { out: opts.out, width: png.readUInt32BE(16), height: png.readUInt32BE(20), indices };
}
