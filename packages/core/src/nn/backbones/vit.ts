import { z } from "zod";
import { defineBackbone } from "../../plugin/define-plugin.js";
import { Rng } from "../../rng.js";
import { tf } from "../../tf.js";
import { truncatedNormalInit } from "../init.js";
import { adaptivePool2d } from "../layers/adaptive-pool.js";
import { LayerNorm } from "../layers/layer-norm.js";
import { Linear } from "../layers/linear.js";
import { TransformerBlock } from "../layers/transformer-block.js";
import { type FeatureModule, type ForwardOptions, Module } from "../module.js";
import { checkImageBatch, type ImageInput, imageInput } from "./input.js";

export const vitOptions = z.object({
  /** Side of the square patches; must divide the image height and width (default 4: 7x7 patches on 28 px, 8x8 on 32 px). */
  patchSize: z.number().int().positive().default(4),
  /**
   * Token width (default 64). ViT-Tiny proper is dim 192, depth 12, heads 3 (Touvron et al., 2021);
   * our defaults are sized for 28x28 digits on the wasm backend, where a 5.5M-parameter model would
   * train for hours. Pass { dim: 192, depth: 12, heads: 3 } for the paper's model.
   */
  dim: z.number().int().positive().default(64),
  depth: z.number().int().positive().default(4),
  heads: z.number().int().positive().default(4),
  mlpRatio: z.number().positive().default(4),
  /**
   * What `forward(x, { mask })` does with masked patches: "remove" drops them from the sequence
   * (MAE: the encoder sees visible patches only), "token" replaces them with a learned mask token
   * (SimMIM / BEiT). Default "remove".
   */
  maskMode: z.enum(["remove", "token"]).default("remove"),
  /**
   * The pooled feature: the class token ("cls", default: ViT, MAE, BEiT), the patch tokens
   * averaged ("mean") or max-pooled ("max"), each over a `grid` x `grid` of cells of the patch map
   * (outputDim = dim·grid²), or all patch tokens in order ("flatten", outputDim = dim·N). A small
   * ViT's class token carries little after short pretraining: on the digits (patch 7, dim 128, 10
   * epochs of MAE) its 10-label probe was 62.6% against 71.6% for the flattened tokens.
   */
  pool: z.enum(["cls", "mean", "max", "flatten"]).default("cls"),
  /**
   * Cells per side of "mean" / "max" pooling over the patch-token map (adaptive, as the convnet's;
   * default 1: one vector), capped at the map's smaller side.
   */
  grid: z.number().int().positive().default(1),
});
export type ViTOptions = z.output<typeof vitOptions>;

/**
 * Vision Transformer (Dosovitskiy et al., 2021, "An Image is Worth 16x16 Words",
 * https://arxiv.org/abs/2010.11929): non-overlapping p x p patches, linearly embedded, a
 * learnable class token prepended, learned position embeddings added, pre-norm transformer
 * blocks and a final LayerNorm. Output: the class token's feature [B, dim] (or the patch tokens
 * pooled, see `pool`); with `{ tokens: true }` all tokens [B, 1+N, dim], class token first.
 *
 * The patch embedding is written as reshape + Linear, which is the same function as a conv with
 * kernel = stride = p (its weight is the conv's [p, p, C, dim] filter flattened in (row, column,
 * channel) order) but needs only matmul kernels, fast on every backend and with gradients on wasm.
 *
 * Masked image modelling, `forward(x, { mask })` with mask [B, N] (1 = masked, patches in
 * row-major order):
 * - maskMode "remove" (MAE, He et al., 2022): masked patches are dropped after their position
 *   embedding is added; the remaining tokens keep ascending patch order, so the output has
 *   1 + (N - masked) tokens. Every sample must mask the same number of patches (a batch is one
 *   rectangular tensor), which MAE's random masking at a fixed ratio guarantees.
 * - maskMode "token" (SimMIM, Xie et al., 2022; BEiT, Bao et al., 2022): masked patch embeddings
 *   are replaced by a learned `mask_token` before position embeddings; the output keeps 1 + N tokens.
 */
export class ViT extends Module implements FeatureModule {
  readonly outputDim: number;
  readonly patchSize: number;
  readonly dim: number;
  readonly numPatches: number;
  /** Patches per row and per column. */
  readonly grid: readonly [number, number];
  /** Cells per side of "mean" / "max" pooling (the `grid` option capped at the patch map). */
  readonly poolGrid: number;
  readonly patchEmbed: Linear;
  readonly clsToken: tf.Variable;
  readonly posEmbed: tf.Variable;
  readonly maskToken: tf.Variable | undefined;
  readonly blocks: TransformerBlock[] = [];
  readonly norm: LayerNorm;

  constructor(
    readonly options: ViTOptions,
    readonly input: ImageInput,
    rng: Rng,
  ) {
    super();
    const { patchSize: p, dim, depth, heads, mlpRatio } = options;
    if (input.height % p !== 0 || input.width % p !== 0) {
      throw new Error(
        `vit-tiny: patchSize ${p} must divide the image size ${input.height}x${input.width} (try ${divisors(input.height, input.width).join(", ")})`,
      );
    }
    if (dim % heads !== 0) throw new Error(`vit-tiny: dim ${dim} must be divisible by heads ${heads}`);
    this.patchSize = p;
    this.dim = dim;
    this.grid = [input.height / p, input.width / p];
    this.numPatches = this.grid[0] * this.grid[1];
    this.poolGrid = Math.min(options.grid, this.grid[0], this.grid[1]);
    this.outputDim =
      options.pool === "cls"
        ? dim
        : options.pool === "flatten"
          ? dim * this.numPatches
          : dim * this.poolGrid * this.poolGrid;
    this.patchEmbed = this.addModule(
      "patch_embed",
      new Linear(p * p * input.channels, dim, rng, { init: "xavier" }),
    );
    // timm / MAE: tokens and position embeddings ~ N(0, 0.02²), excluded from weight decay.
    this.clsToken = this.addParameter("cls_token", truncatedNormalInit([1, 1, dim], 0.02, rng), {
      decay: false,
    });
    this.posEmbed = this.addParameter(
      "pos_embed",
      truncatedNormalInit([1, 1 + this.numPatches, dim], 0.02, rng),
      { decay: false },
    );
    this.maskToken =
      options.maskMode === "token"
        ? this.addParameter("mask_token", truncatedNormalInit([1, 1, dim], 0.02, rng), { decay: false })
        : undefined;
    for (let i = 0; i < depth; i++) {
      this.blocks.push(this.addModule(`block${i}`, new TransformerBlock(dim, heads, rng, { mlpRatio })));
    }
    this.norm = this.addModule("norm", new LayerNorm(dim, { eps: 1e-6 }));
  }

  /** [B, H, W, C] -> [B, N, p·p·C] patches in row-major order, each flattened as (row, column, channel). */
  patchify(x: tf.Tensor): tf.Tensor3D {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const p = this.patchSize;
    const [gh, gw] = [h / p, w / p];
    return tf.tidy(() => {
      const rows = tf.reshape(x, [b * gh, p, gw, p * c]); // one band of patch rows per (b, gh)
      const patches = tf.transpose(rows, [0, 2, 1, 3]); // [b·gh, gw, p, p·c]
      return tf.reshape(patches, [b, gh * gw, p * p * c]) as tf.Tensor3D;
    });
  }

  forward(x: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor {
    checkImageBatch(x, this.input, "vit-tiny");
    const [b, h, w] = x.shape as [number, number, number, number];
    const p = this.patchSize;
    if (h % p !== 0 || w % p !== 0) {
      throw new Error(
        `vit-tiny: patchSize ${p} must divide the image size, got ${h}x${w} (built for ${this.input.height}x${this.input.width}; other sizes work when ${p} divides them, e.g. multi-crop's local crops)`,
      );
    }
    const grid: [number, number] = [h / p, w / p];
    const n = grid[0] * grid[1];
    const { mask } = opts;
    if (mask && !(mask.rank === 2 && mask.shape[0] === b && mask.shape[1] === n)) {
      throw new Error(
        `vit-tiny: mask must be [batch, numPatches] = [${b}, ${n}] (1 = masked), got [${mask.shape}]`,
      );
    }
    const keep = mask && this.options.maskMode === "remove" ? visibleIndices(mask) : undefined;
    return tf.tidy(() => {
      let patches: tf.Tensor = this.patchEmbed.forward(this.patchify(x)); // [B, N, D]
      if (mask && this.maskToken) {
        const m = tf.reshape(tf.cast(mask, "float32"), [b, n, 1]);
        patches = tf.add(tf.mul(patches, tf.sub(1, m)), tf.mul(this.maskToken, m));
      }
      patches = tf.add(patches, this.patchPositions(grid));
      if (keep) {
        // Keep the visible tokens with a 0/1 selection matmul [B, V, N] x [B, N, D] rather than a
        // gather: it is exact, cheap at these sizes, and its gradient is a matmul, which every
        // backend has (gather's gradient needs UnsortedSegmentSum, missing on wasm).
        const select = tf.tensor3d(keep.selection, [b, keep.perSample, n]);
        patches = tf.matMul(select, patches as tf.Tensor3D);
      }
      const cls = tf.add(this.clsToken, tf.slice(this.posEmbed, [0, 0, 0], [1, 1, this.dim]));
      let h: tf.Tensor = tf.concat([tf.tile(cls, [b, 1, 1]), patches], 1);
      for (const block of this.blocks) h = block.forward(h);
      h = this.norm.forward(h);
      if (opts.tokens) return h;
      const t = h.shape[1] as number;
      const { pool } = this.options;
      if (pool === "cls") return tf.reshape(tf.slice(h, [0, 0, 0], [b, 1, this.dim]), [b, this.dim]);
      const patchTokens = tf.slice(h, [0, 1, 0], [b, t - 1, this.dim]);
      if (pool !== "flatten" && this.poolGrid === 1)
        return pool === "max" ? tf.max(patchTokens, 1) : tf.mean(patchTokens, 1);
      // with patches removed (MAE's mask) there is no full map to lay out
      if (t - 1 !== n)
        throw new Error(
          `vit-tiny: pool "${pool}"${pool === "flatten" ? "" : ` with grid ${this.poolGrid}`} needs every patch, got ${t - 1} of ${n} tokens (pool the tokens yourself, or use pool "cls" / "mean")`,
        );
      if (pool === "flatten") return tf.reshape(patchTokens, [b, n * this.dim]);
      const map = tf.reshape(patchTokens, [b, grid[0], grid[1], this.dim]) as tf.Tensor4D;
      const cells = Math.min(this.poolGrid, grid[0], grid[1]);
      return tf.reshape(adaptivePool2d(map, cells, pool === "max" ? "max" : "avg"), [b, -1]);
    });
  }

  /**
   * The patch position embeddings [1, N, D] for a `grid` of patches: the learned ones at the size
   * the net was built for, else bilinearly interpolated from its grid (DINO's
   * `interpolate_pos_encoding`, Caron et al. 2021, which uses bicubic; bilinear here, half-pixel
   * centres as PyTorch's `align_corners=False`). The interpolation is a fixed [N', N] matrix times
   * the embeddings, so its gradient is a matmul on every backend.
   */
  patchPositions(grid: readonly [number, number]): tf.Tensor {
    const [gh, gw] = this.grid;
    const n = this.numPatches;
    const patches = tf.slice(this.posEmbed, [0, 1, 0], [1, n, this.dim]);
    if (grid[0] === gh && grid[1] === gw) return patches;
    const weights = bilinearMatrix(grid, this.grid);
    return tf.tidy(() =>
      tf.reshape(
        tf.matMul(tf.tensor2d(weights, [grid[0] * grid[1], n]), tf.reshape(patches, [n, this.dim])),
        [1, grid[0] * grid[1], this.dim],
      ),
    );
  }

  protected recreate(): ViT {
    return new ViT(this.options, this.input, new Rng(0));
  }
}

/**
 * A 0/1 matrix [B, V, N] selecting, for each sample, its V unmasked patches in ascending patch
 * order. Reads the mask on the host: masks are made on the host by the augmentation step.
 */
function visibleIndices(mask: tf.Tensor): { selection: Float32Array; perSample: number } {
  const [b, n] = mask.shape as [number, number];
  const values = mask.dataSync();
  const visible: number[][] = [];
  for (let i = 0; i < b; i++) {
    const row: number[] = [];
    for (let j = 0; j < n; j++) if (Number(values[i * n + j]) === 0) row.push(j);
    visible.push(row);
  }
  const counts = visible.map((row) => row.length);
  const perSample = counts[0] ?? 0;
  if (counts.some((c) => c !== perSample)) {
    throw new Error(
      `vit-tiny (maskMode "remove") needs the same number of masked patches in every sample, got visible counts [${counts.join(", ")}]; use a fixed mask ratio (MAE) or maskMode "token"`,
    );
  }
  if (perSample === 0)
    throw new Error("vit-tiny: the mask hides every patch; at least one patch must stay visible");
  const selection = new Float32Array(b * perSample * n);
  visible.forEach((row, i) => {
    row.forEach((patch, k) => {
      selection[(i * perSample + k) * n + patch] = 1;
    });
  });
  return { selection, perSample };
}

/** 1-D linear interpolation weights [to, from] with half-pixel centres, clamped at the edges. */
function linearWeights(to: number, from: number): Float64Array {
  const m = new Float64Array(to * from);
  for (let i = 0; i < to; i++) {
    const src = Math.min(Math.max(((i + 0.5) * from) / to - 0.5, 0), from - 1);
    const lo = Math.floor(src);
    const hi = Math.min(lo + 1, from - 1);
    const t = src - lo;
    m[i * from + lo] = (m[i * from + lo] as number) + (1 - t);
    m[i * from + hi] = (m[i * from + hi] as number) + t;
  }
  return m;
}

/**
 * Bilinear resampling of a row-major `from` grid onto a `to` grid as one matrix
 * [to rows·cols, from rows·cols] (the outer product of the two axes' linear weights).
 */
export function bilinearMatrix(to: readonly [number, number], from: readonly [number, number]): Float32Array {
  const rows = linearWeights(to[0], from[0]);
  const cols = linearWeights(to[1], from[1]);
  const out = new Float32Array(to[0] * to[1] * from[0] * from[1]);
  const nFrom = from[0] * from[1];
  for (let i = 0; i < to[0]; i++)
    for (let j = 0; j < to[1]; j++)
      for (let r = 0; r < from[0]; r++) {
        const wr = rows[i * from[0] + r] as number;
        if (wr === 0) continue;
        for (let c = 0; c < from[1]; c++)
          out[(i * to[1] + j) * nFrom + r * from[1] + c] = wr * (cols[j * from[1] + c] as number);
      }
  return out;
}

function divisors(h: number, w: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= Math.min(h, w); d++) if (h % d === 0 && w % d === 0) out.push(d);
  return out;
}

export const vitTinyBackbone = defineBackbone({
  name: "vit-tiny",
  description:
    "Small Vision Transformer (Dosovitskiy et al. 2021): patch embedding, class token, pre-norm blocks; MAE/SimMIM masking",
  options: vitOptions,
  build: (opts, input, rng) => new ViT(opts, imageInput(input, "vit-tiny"), rng),
});
