/**
 * Synthetic shapes for tests and smoke runs: circles, squares, triangles and crosses drawn at a
 * random position, size and intensity, labelled by shape. Sample i of a split depends only on
 * (seed, split, i), so it is the same whatever the order of reads, and no file is needed.
 */
import { z } from "zod";
import { defineDataset } from "../plugin/define-plugin.js";
import type { Dataset, InputSpec, Sample } from "../plugin/types.js";
import { Rng } from "../rng.js";
import { checkIndex, type ShapedSplit } from "./split.js";

export const SYNTHETIC_SHAPES = ["circle", "square", "triangle", "cross"] as const;
export type SyntheticShape = (typeof SYNTHETIC_SHAPES)[number];

export const syntheticOptions = z.object({
  size: z.number().int().min(8).max(512).default(28),
  channels: z.union([z.literal(1), z.literal(3)]).default(1),
  trainSize: z.number().int().positive().default(1000),
  testSize: z.number().int().min(0).default(200),
  seed: z.number().int().default(0),
  shapes: z
    .array(z.enum(SYNTHETIC_SHAPES))
    .min(2)
    .refine((s) => new Set(s).size === s.length, "shapes must not repeat")
    .default([...SYNTHETIC_SHAPES]),
  /** Std of gaussian pixel noise added to the drawing. */
  noise: z.number().min(0).max(1).default(0),
});
export type SyntheticOptions = z.output<typeof syntheticOptions>;

/** Is the point (px, py) inside the shape centred at (cx, cy) with half-size r? */
function inside(shape: SyntheticShape, px: number, py: number, cx: number, cy: number, r: number): boolean {
  const dx = px - cx;
  const dy = py - cy;
  switch (shape) {
    case "circle":
      return dx * dx + dy * dy <= r * r;
    case "square":
      return Math.abs(dx) <= r * 0.8 && Math.abs(dy) <= r * 0.8;
    case "triangle": {
      // upward triangle: apex (0,-r), base at y = +r*0.8 from -r to +r
      if (dy < -r || dy > r * 0.8) return false;
      const half = ((dy + r) / (1.8 * r)) * r;
      return Math.abs(dx) <= half;
    }
    case "cross": {
      const t = r * 0.3;
      return (Math.abs(dx) <= t && Math.abs(dy) <= r) || (Math.abs(dy) <= t && Math.abs(dx) <= r);
    }
  }
}

/** Draws one sample: the shape index is `label`, everything else comes from `rng`. */
export function drawShape(
  rng: Rng,
  shape: SyntheticShape,
  size: number,
  channels: 1 | 3,
  noise: number,
): Float32Array {
  const r = rng.uniform(0.2, 0.4) * size;
  const cx = rng.uniform(r, size - r);
  const cy = rng.uniform(r, size - r);
  const color =
    channels === 1 ? [rng.uniform(0.6, 1)] : [rng.uniform(0.2, 1), rng.uniform(0.2, 1), rng.uniform(0.2, 1)];
  const out = new Float32Array(size * size * channels);
  // 2x2 supersampling for soft edges
  const offsets = [0.25, 0.75];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let cover = 0;
      for (const oy of offsets)
        for (const ox of offsets) if (inside(shape, x + ox, y + oy, cx, cy, r)) cover += 0.25;
      for (let c = 0; c < channels; c++) {
        let v = cover * color[c]!;
        if (noise > 0) v = Math.min(1, Math.max(0, v + noise * rng.normal()));
        out[(y * size + x) * channels + c] = v;
      }
    }
  }
  return out;
}

class SyntheticSplit implements ShapedSplit {
  constructor(
    private readonly what: string,
    readonly input: InputSpec,
    readonly size: number,
    private readonly opts: SyntheticOptions,
    private readonly splitId: number,
  ) {}

  async get(index: number): Promise<Sample> {
    checkIndex(this.what, index, this.size);
    const { shapes, size, channels, noise, seed } = this.opts;
    const label = index % shapes.length;
    // one independent stream per (seed, split, index)
    const rng = new Rng(
      (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(this.splitId, 0x85ebca6b) + index) >>> 0,
    );
    return { data: drawShape(rng, shapes[label]!, size, channels, noise), label };
  }
}

/** Makes the synthetic shapes dataset (options validated by `syntheticOptions`). */
export async function loadSynthetic(options: z.input<typeof syntheticOptions> = {}): Promise<Dataset> {
  const opts = syntheticOptions.parse(options);
  const input: InputSpec = { kind: "image", height: opts.size, width: opts.size, channels: opts.channels };
  return {
    name: "synthetic",
    input,
    numClasses: opts.shapes.length,
    classNames: [...opts.shapes],
    train: new SyntheticSplit("synthetic train", input, opts.trainSize, opts, 1),
    ...(opts.testSize > 0
      ? { test: new SyntheticSplit("synthetic test", input, opts.testSize, opts, 2) }
      : {}),
  };
}

export const synthetic = defineDataset({
  name: "synthetic",
  description: "Deterministic shapes (circle, square, triangle, cross) labelled by shape, for tests",
  options: syntheticOptions,
  load: (opts) => loadSynthetic(opts),
});
