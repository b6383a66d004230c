/**
 * Multi-crop views (Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting
 * Cluster Assignments", https://arxiv.org/abs/2006.09882, section 3.2; used by DINO and iBOT):
 * N global crops at full resolution and M local crops at a smaller one, each a random resized crop
 * of the un-augmented batch followed by the same photometric augmentations. A method asks for
 * views by name and count:
 *
 *   readonly crops = new MultiCrop(multiCropSets(this.options, this.ctx.input), this.ctx.input, this.name);
 *   const { global, local } = this.crops.views(batch.inputs, ctx.rng);   // tf.Tensor[] each
 *
 * Each view is one batch [B, h, w, C] at its set's size, so it goes through the backbone at its own
 * size (the convnet pools globally; the ViT interpolates its position embeddings). Methods that
 * cut their views this way set `views = 0` and get `batch.inputs` from the trainer.
 *
 * Paper values (ImageNet, 224 px): DINO 2 global crops of scale [0.4, 1] at 224 px and 8-10 local
 * crops of scale [0.05, 0.4] at 96 px (96 / 224 = 0.43 of the side). On 28 px digits that is
 * 12 px local crops (`defaultLocalSize`).
 */
import { z } from "zod";
import type { FeatureModule } from "../nn/module.js";
import type { AugmentationConfig, InputSpec } from "../plugin/types.js";
import type { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { builtinAugmentations } from "./builtins.js";
import { buildPipeline, type Pipeline } from "./pipeline.js";
import { type CropBox, cropAndResizeBoxes, sampleCropBox } from "./random-resized-crop.js";
import { imageShape } from "./util.js";

/** One named set of crops: how many, at which size, covering which fraction of the image. */
export interface CropSet {
  name: string;
  count: number;
  /** Output [height, width] of every crop of the set. */
  size: readonly [number, number];
  /** Area fraction range of the crop box (torchvision's RandomResizedCrop `scale`). */
  scale: readonly [number, number];
  /** Aspect ratio range (default [3/4, 4/3]). */
  ratio?: readonly [number, number];
}

const fraction = (lo: number, hi: number, what: string) =>
  z
    .tuple([z.number().positive(), z.number().positive()])
    .refine(
      ([a, b]) => a <= b && b <= 1,
      `${what} is [lo, hi], 0 < lo <= hi <= 1 (a fraction of the image area)`,
    )
    .default([lo, hi]);

/**
 * The multi-crop fields of a method's options (DINO's, iBOT's): spread into its zod object.
 * `globalCrops` minimum is the method's to set (DINO needs 2); here at least 1.
 */
export const multiCropFields = {
  globalCrops: z.number().int().min(1).default(2).describe("global crops per image (DINO: 2)"),
  localCrops: z
    .number()
    .int()
    .min(0)
    .default(6)
    .describe("local (small) crops per image (DINO: 8 on ViT-S/16, 10 in its best runs; ours: 6)"),
  globalScale: fraction(0.4, 1, "globalScale").describe("area fraction of the global crops (DINO: [0.4, 1])"),
  localScale: fraction(0.05, 0.4, "localScale").describe(
    "area fraction of the local crops (DINO: [0.05, 0.4])",
  ),
  localSize: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      "side of the local crops in pixels (default: 3/7 of the input side, a multiple of 4: 12 on 28 px; DINO: 96 of 224)",
    ),
};

export interface MultiCropOptions {
  globalCrops: number;
  localCrops: number;
  globalScale: readonly [number, number];
  localScale: readonly [number, number];
  localSize?: number | undefined;
}

/** DINO's 96/224 of the side, rounded to a multiple of 4 (vit-tiny's default patch), at least 4. */
export function defaultLocalSize(side: number): number {
  return Math.max(4, 4 * Math.round((side * 3) / 7 / 4));
}

/** The "global" and "local" crop sets of a method's multi-crop options on this input. */
export function multiCropSets(opts: MultiCropOptions, input: InputSpec): CropSet[] {
  if (input.kind !== "image") throw new Error(`multi-crop needs images, the dataset gives ${input.kind}`);
  const side = Math.min(input.height, input.width);
  const local = opts.localSize ?? defaultLocalSize(side);
  return [
    { name: "global", count: opts.globalCrops, size: [input.height, input.width], scale: opts.globalScale },
    { name: "local", count: opts.localCrops, size: [local, local], scale: opts.localScale },
  ];
}

/**
 * The photometric part of core's recommended pipeline (everything but the crop, which multi-crop
 * makes per set): for digits a small affine warp, brightness/contrast and noise; for RGB SimCLR's
 * flip, colour jitter and grayscale.
 */
export function photometricSteps(input: InputSpec): AugmentationConfig[] {
  if (input.kind !== "image") return [];
  const steps: AugmentationConfig[] =
    input.channels === 1
      ? [
          { name: "affine", options: { degrees: 10, translate: 0.1, scale: [0.9, 1.1] } },
          { name: "color-jitter", options: { brightness: 0.3, contrast: 0.3, p: 0.5 } },
          { name: "noise", options: { std: 0.05 } },
        ]
      : input.channels === 3
        ? [
            { name: "horizontal-flip", options: { p: 0.5 } },
            {
              name: "color-jitter",
              options: { brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1, p: 0.8 },
            },
            { name: "grayscale", options: { p: 0.2 } },
          ]
        : [{ name: "horizontal-flip", options: { p: 0.5 } }];
  return steps;
}

export class MultiCropError extends Error {
  override name = "MultiCropError";
}

/** Cuts named sets of crops from a batch; see the module comment. */
export class MultiCrop {
  readonly sets: readonly CropSet[];
  readonly photometric: Pipeline;

  /**
   * Checks the sets against the input: sizes at most the image's, a set named once, and every set
   * after the first no larger than the first ("local crops larger than global" is an error).
   * `who` names the method in errors. `photometric` defaults to `photometricSteps(input)`.
   */
  constructor(
    sets: readonly CropSet[],
    input: InputSpec,
    who: string,
    photometric: readonly AugmentationConfig[] = photometricSteps(input),
  ) {
    if (input.kind !== "image")
      throw new MultiCropError(`${who}: multi-crop needs images, the dataset gives ${input.kind}`);
    const names = new Set<string>();
    const first = sets[0];
    for (const set of sets) {
      if (names.has(set.name)) throw new MultiCropError(`${who}: crop set "${set.name}" is named twice`);
      names.add(set.name);
      if (!(Number.isInteger(set.count) && set.count >= 0))
        throw new MultiCropError(
          `${who}: ${set.name} crops: count must be an integer >= 0, got ${set.count}`,
        );
      const [h, w] = set.size;
      if (h > input.height || w > input.width)
        throw new MultiCropError(
          `${who}: ${set.name} crops of ${h}x${w} px are larger than the ${input.height}x${input.width} images`,
        );
      if (first && set !== first && set.count > 0 && (h > first.size[0] || w > first.size[1]))
        throw new MultiCropError(
          `${who}: ${set.name} crops (${h}x${w} px) are larger than the ${first.name} crops (${first.size[0]}x${first.size[1]} px); local crops must be at most the global size`,
        );
      if (first && set !== first && set.count > 0 && set.scale[0] > first.scale[1])
        throw new MultiCropError(
          `${who}: ${set.name} crops cover [${set.scale}] of the image, more than the ${first.name} crops' [${first.scale}]; local crops must be the smaller ones`,
        );
    }
    this.sets = sets;
    this.photometric = buildPipeline(builtinAugmentations, photometric);
  }

  /** Every set's [height, width] (those with a count), for `checkBackboneSizes`. */
  sizes(): Array<readonly [number, number]> {
    return this.sets.filter((s) => s.count > 0).map((s) => s.size);
  }

  /**
   * The views of x [B, H, W, C]: for each set, `count` batches [B, h, w, C], every sample with its
   * own crop box from `rng` (the same rng state gives the same views), then the photometric steps.
   * x is not disposed.
   */
  views(x: tf.Tensor, rng: Rng): Record<string, tf.Tensor[]> {
    const [b, h, w] = imageShape(x, "multi-crop");
    const out: Record<string, tf.Tensor[]> = {};
    try {
      for (const set of this.sets) {
        const list: tf.Tensor[] = [];
        out[set.name] = list;
        for (let v = 0; v < set.count; v++) {
          const boxes: CropBox[] = [];
          for (let i = 0; i < b; i++)
            boxes.push(sampleCropBox(rng, h, w, set.scale, set.ratio ?? [3 / 4, 4 / 3]));
          const crop = cropAndResizeBoxes(x, boxes, set.size);
          try {
            list.push(this.photometric.apply(crop, rng));
          } finally {
            crop.dispose();
          }
        }
      }
    } catch (err) {
      for (const list of Object.values(out)) tf.dispose(list);
      throw err;
    }
    return out;
  }
}

/**
 * Runs one zero image of each size through the backbone and checks it gives the same feature width
 * (a convnet with global pooling and the ViT do; a flattened map or a patch size that does not
 * divide the crop do not), so a bad multi-crop set-up fails when the method is built (before
 * training, and under --dry-run) with the backbone's own reason.
 */
export function checkBackboneSizes(
  backbone: FeatureModule,
  channels: number,
  sizes: ReadonlyArray<readonly [number, number]>,
  who: string,
): void {
  const wasTraining = backbone.training;
  backbone.train(false); // eval mode: BatchNorm uses (and keeps) its running statistics
  try {
    for (const size of sizes) checkOneSize(backbone, channels, size, who);
  } finally {
    backbone.train(wasTraining);
  }
}

function checkOneSize(
  backbone: FeatureModule,
  channels: number,
  [h, w]: readonly [number, number],
  who: string,
): void {
  {
    let dim: number | undefined;
    try {
      dim = tf.tidy(() => {
        const y = backbone.forward(tf.zeros([1, h, w, channels]));
        return y.rank === 2 ? (y.shape[1] as number) : -1;
      });
    } catch (err) {
      throw new MultiCropError(
        `${who}: the backbone cannot take ${h}x${w} crops: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    if (dim !== backbone.outputDim)
      throw new MultiCropError(
        `${who}: the backbone gives ${dim}-d features on ${h}x${w} crops but ${backbone.outputDim}-d on full images; use global pooling (convnet pool "avg"/"max" with grid 1, vit-tiny pool "cls"/"mean")`,
      );
  }
}
