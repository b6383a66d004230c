/**
 * Mask generators for masked image modelling. A mask is a [B,N] float32 tensor over the N patches
 * of each image (row-major, as `toPatches`), 1 = masked (hidden from the encoder), 0 = visible,
 * the convention `Module.forward`'s `mask` option uses. Masks are drawn on the JS side from the rng.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import type { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { fromPatches, toPatches } from "./patches.js";
import { imageShape } from "./util.js";

/** Each patch masked independently with probability `ratio` (the count varies per sample). */
export function randomMaskValues(rng: Rng, batch: number, numPatches: number, ratio: number): Float32Array {
  const out = new Float32Array(batch * numPatches);
  for (let i = 0; i < out.length; i++) out[i] = rng.next() < ratio ? 1 : 0;
  return out;
}

/** Random mask: each patch masked independently with probability `ratio`. [B,N] float 0/1. */
export function randomMask(rng: Rng, batch: number, numPatches: number, ratio = 0.5): tf.Tensor2D {
  return tf.tensor2d(randomMaskValues(rng, batch, numPatches, ratio), [batch, numPatches]);
}

export interface BlockwiseMaskOptions {
  /** Target fraction of masked patches (BEiT: 0.4, i.e. 75 of 196). */
  ratio?: number;
  /** Smallest block, in patches (BEiT: 16). Lowered to the remaining budget on small grids. */
  minPatches?: number;
  /** Largest block, in patches (BEiT: no limit other than the budget). */
  maxPatches?: number;
  /** Aspect ratio range of a block, sampled log-uniformly in [minAspect, 1/minAspect] (BEiT: 0.3). */
  minAspect?: number;
}

/**
 * One BEiT block-wise mask over a gh x gw grid (Bao et al. 2022, "BEiT: BERT Pre-Training of Image
 * Transformers", https://arxiv.org/abs/2106.08254, algorithm 1): repeatedly mask a random
 * rectangle of at least `minPatches` patches with aspect ratio in [0.3, 1/0.3] until the target
 * count is reached. Rectangles make the task harder than scattered patches, which a network can
 * fill in by interpolating neighbours. A port of the reference `MaskingGenerator`: no block adds
 * more patches than the remaining budget, so the count is at most the target and usually equal.
 */
export function blockwiseMaskValues(
  rng: Rng,
  gh: number,
  gw: number,
  opts: BlockwiseMaskOptions = {},
): Uint8Array {
  const ratio = opts.ratio ?? 0.4;
  const target = Math.round(ratio * gh * gw);
  const minAspect = opts.minAspect ?? 0.3;
  const logAspect: [number, number] = [Math.log(minAspect), Math.log(1 / minAspect)];
  const maxBlock = opts.maxPatches ?? target;
  const mask = new Uint8Array(gh * gw);
  let count = 0;
  const tryBlock = (budget: number): number => {
    const minBlock = Math.min(opts.minPatches ?? 16, budget);
    let delta = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      const area = rng.uniform(minBlock, budget);
      const aspect = Math.exp(rng.uniform(logAspect[0], logAspect[1]));
      const h = Math.round(Math.sqrt(area * aspect));
      const w = Math.round(Math.sqrt(area / aspect));
      if (h > 0 && w > 0 && w < gw && h < gh) {
        const top = rng.int(gh - h + 1);
        const left = rng.int(gw - w + 1);
        let already = 0;
        for (let i = top; i < top + h; i++)
          for (let j = left; j < left + w; j++) already += mask[i * gw + j]!;
        const fresh = h * w - already;
        if (fresh > 0 && fresh <= budget) {
          for (let i = top; i < top + h; i++) {
            for (let j = left; j < left + w; j++) {
              if (mask[i * gw + j] === 0) {
                mask[i * gw + j] = 1;
                delta++;
              }
            }
          }
        }
        if (delta > 0) break;
      }
    }
    return delta;
  };
  while (count < target) {
    const delta = tryBlock(Math.min(target - count, maxBlock));
    if (delta === 0) break;
    count += delta;
  }
  return mask;
}

/** BEiT block-wise masks for a batch, [B, gh*gw] float 0/1. */
export function blockwiseMask(
  rng: Rng,
  batch: number,
  gh: number,
  gw: number,
  opts: BlockwiseMaskOptions = {},
): tf.Tensor2D {
  const n = gh * gw;
  const out = new Float32Array(batch * n);
  for (let b = 0; b < batch; b++) out.set(blockwiseMaskValues(rng, gh, gw, opts), b * n);
  return tf.tensor2d(out, [batch, n]);
}

export interface MaeMask {
  /** [B,N] float 0/1, 1 = removed; exactly round(ratio*N) ones in every row. */
  mask: tf.Tensor2D;
  /** [B,K] int32 indices of the kept patches, K = N - round(ratio*N), in shuffled order (as MAE). */
  keep: tf.Tensor2D;
  /** [B,N] int32: position of each patch in the shuffled order (MAE's `ids_restore`). */
  restore: tf.Tensor2D;
}

/**
 * MAE's per-sample random masking (He et al. 2022, "Masked Autoencoders Are Scalable Vision
 * Learners", https://arxiv.org/abs/2111.06377, sec. 3): shuffle the patches of each image and keep
 * the first K; the encoder sees only the kept patches, so every sample must keep the same count.
 * A high ratio (75%) makes reconstruction a non-trivial task and the encoder 3-4x cheaper.
 */
export function maeMask(rng: Rng, batch: number, numPatches: number, ratio = 0.75): MaeMask {
  const n = numPatches;
  const masked = Math.round(ratio * n);
  const k = n - masked;
  const mask = new Float32Array(batch * n);
  const keep = new Int32Array(batch * k);
  const restore = new Int32Array(batch * n);
  for (let b = 0; b < batch; b++) {
    const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
    order.forEach((patch, pos) => {
      restore[b * n + patch] = pos;
      if (pos < k) keep[b * k + pos] = patch;
      else mask[b * n + patch] = 1;
    });
  }
  return {
    mask: tf.tensor2d(mask, [batch, n]),
    keep: tf.tensor2d(keep, [batch, k], "int32"),
    restore: tf.tensor2d(restore, [batch, n], "int32"),
  };
}

export const maskPatchesOptions = z.object({
  /** Which generator: i.i.d. random, BEiT block-wise, or MAE's fixed-count random. */
  generator: z.enum(["random", "blockwise", "mae"]).default("mae"),
  patchSize: z.number().int().positive().default(4),
  /** Fraction of patches to mask (default per generator: random 0.5, blockwise 0.4, mae 0.75). */
  ratio: z.number().min(0).max(1).optional(),
  /** Value written into masked patches. */
  fill: z.number().default(0),
});

/**
 * As an augmentation: masked patches are overwritten with `fill` (what a preview shows, and the
 * input of SimMIM-style methods that keep the image grid). Methods that need the mask itself call
 * the generators directly.
 */
export const maskPatches = defineAugmentation({
  name: "mask-patches",
  description: "Blank out patches chosen by a random, BEiT block-wise or MAE mask generator",
  options: maskPatchesOptions,
  create(opts) {
    return {
      name: "mask-patches",
      apply(x, rng) {
        const [b, h, w] = imageShape(x, "mask-patches");
        const p = opts.patchSize;
        const gh = h / p;
        const gw = w / p;
        if (!Number.isInteger(gh) || !Number.isInteger(gw)) {
          throw new Error(`mask-patches: a ${h}x${w} image does not split into ${p}x${p} patches`);
        }
        let mask: tf.Tensor2D;
        if (opts.generator === "random") mask = randomMask(rng, b, gh * gw, opts.ratio ?? 0.5);
        else if (opts.generator === "blockwise")
          mask = blockwiseMask(rng, b, gh, gw, { ratio: opts.ratio ?? 0.4 });
        else {
          const m = maeMask(rng, b, gh * gw, opts.ratio ?? 0.75);
          m.keep.dispose();
          m.restore.dispose();
          mask = m.mask;
        }
        return tf.tidy(() => {
          const patches = toPatches(x, p);
          const m = tf.expandDims(mask, 2);
          const out = tf.add(tf.mul(patches, tf.sub(1, m)), tf.mul(m, opts.fill));
          mask.dispose();
          return fromPatches(out, p, h, w);
        });
      },
    };
  },
});
