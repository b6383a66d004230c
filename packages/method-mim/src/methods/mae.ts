/**
 * MAE: masked autoencoders. Hide most patches of an image, encode only the visible ones, and let a
 * light decoder reconstruct the pixels of the hidden ones.
 *
 * He, Chen, Xie, Li, Dollár, Girshick, "Masked Autoencoders Are Scalable Vision Learners",
 * CVPR 2022. https://arxiv.org/abs/2111.06377
 *
 *   x -> N patches; a fresh random subset of round(r N) patches is masked per sample (r = 0.75)
 *   latent = Enc(visible patches + their position embeddings)        ViT sees N - rN tokens only
 *   y = Dec([latent; mask tokens] unshuffled to patch order + decoder position embeddings)
 *   target_i = (x_i - mean(x_i)) / sqrt(var(x_i) + 1e-6)   per patch (normPixLoss, the paper's default)
 *   loss = sum_i m_i ||y_i - target_i||^2 / (P sum_i m_i)  mean squared error on masked patches only
 *
 * The decoder (Linear to its own width, learned mask token, its own learned position embeddings,
 * pre-norm transformer blocks, LayerNorm, Linear to p*p*C pixels) is discarded after pretraining;
 * the encoder is the representation. The paper's decoder uses fixed 2-D sin-cos position
 * embeddings; here they are learned (as the encoder's in core's vit-tiny), which the paper's
 * ablations found equivalent.
 *
 * Paper defaults (ImageNet, ViT-L): mask ratio 0.75, decoder 512 wide and 8 blocks deep, 16 heads.
 * Defaults here (vit-tiny of width 64 on 28 px digits): decoder width 64, 2 blocks, 4 heads.
 */
import { defineMethod, type ForwardOptions, Rng, tf, toPatches } from "@selfsup/core";
import { z } from "zod";
import { MaskTokenTransformer, type MaskTokenTransformerSize } from "../mask-token-transformer.js";
import { MaskedImageMethod } from "../masked-image-method.js";
import { maskedMean, normalizePatches, visibleSelection } from "../masked-loss.js";
import { requireViT } from "../vit-backbone.js";

export const maeMethodOptions = z.object({
  maskRatio: z
    .number()
    .gt(0)
    .lt(1)
    .default(0.75)
    .describe("fraction of patches hidden from the encoder, drawn afresh per sample (paper: 0.75)"),
  decoderDim: z.number().int().positive().default(64).describe("decoder token width (paper: 512)"),
  decoderDepth: z.number().int().positive().default(2).describe("decoder transformer blocks (paper: 8)"),
  decoderHeads: z.number().int().positive().default(4).describe("decoder attention heads (paper: 16)"),
  normPixLoss: z
    .boolean()
    .default(true)
    .describe("regress per-patch normalised pixels (mean 0, variance 1 per patch), as the paper's default"),
});
export type MAEOptions = z.output<typeof maeMethodOptions>;

/**
 * MAE's decoder: `forward(latent, { mask })` takes the encoder's tokens [B, 1+V, D] (class token,
 * then the V visible patches in ascending patch order) and the mask [B, N] (1 = masked) and
 * returns per-patch pixel predictions [B, N, p*p*C].
 */
export class MaeDecoder extends MaskTokenTransformer {
  constructor(
    size: MaskTokenTransformerSize,
    /** Pixel values per patch (p * p * C): the output width. */
    readonly patchValues: number,
    rng: Rng,
  ) {
    const options = { method: "mae", dim: "decoderDim", heads: "decoderHeads" };
    super(size, { classToken: true, output: { name: "pred", dim: patchValues }, options }, rng);
  }

  forward(latent: tf.Tensor, opts: ForwardOptions = {}): tf.Tensor {
    const { mask } = opts;
    if (!mask) throw new Error("mae decoder: forward needs the mask [B, N] the encoder was given");
    const [b, t] = latent.shape as [number, number, number];
    const n = this.numPatches;
    const select = visibleSelection(mask); // [B, V, N]
    try {
      if (select.shape[1] !== t - 1)
        throw new Error(`mae decoder: ${t - 1} visible tokens but the mask keeps ${select.shape[1]}`);
      return tf.tidy(() => {
        const y = this.embed.forward(latent);
        const cls = tf.slice(y, [0, 0, 0], [b, 1, this.dim]);
        const visible = tf.slice(y, [0, 1, 0], [b, t - 1, this.dim]) as tf.Tensor3D;
        // scatter the visible tokens back to their patch positions, mask tokens everywhere else
        const scattered = tf.matMul(select, visible, true, false); // [B, N, dim]
        const m = tf.reshape(tf.cast(mask, "float32"), [b, n, 1]);
        let h: tf.Tensor = tf.add(scattered, tf.mul(m, this.maskToken));
        h = tf.add(tf.concat([cls, h], 1), this.posEmbed);
        for (const block of this.blocks) h = block.forward(h);
        h = this.out.forward(this.norm.forward(h));
        return tf.slice(h, [0, 1, 0], [b, n, this.patchValues]);
      });
    } finally {
      select.dispose();
    }
  }

  protected recreate(): MaeDecoder {
    return new MaeDecoder(this, this.patchValues, new Rng(0));
  }
}

export class MAE extends MaskedImageMethod<MAEOptions> {
  readonly views = 0;
  readonly backbone = this.addBackbone();
  readonly vit = requireViT(this.backbone, "mae", "remove");
  readonly patchSize = this.vit.patchSize;
  readonly numPatches = this.vit.numPatches;
  readonly decoder = this.module(
    "decoder",
    new MaeDecoder(
      {
        encoderDim: this.vit.dim,
        numPatches: this.vit.numPatches,
        dim: this.options.decoderDim,
        depth: this.options.decoderDepth,
        heads: this.options.decoderHeads,
      },
      this.vit.patchSize * this.vit.patchSize * this.vit.input.channels,
      this.ctx.rng,
    ),
  );

  /** Per-patch pixel predictions [B, N, P] for images x under `mask` (encoder sees visible patches only). */
  predict(x: tf.Tensor, mask: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const latent = this.vit.forward(x, { mask, tokens: true }); // [B, 1 + V, D]
      return this.decoder.forward(latent, { mask });
    });
  }

  /** The loss of one batch under `mask` (what trainStep minimises). */
  loss(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const pred = this.predict(x, mask);
      let target: tf.Tensor = toPatches(x, this.vit.patchSize);
      if (this.options.normPixLoss) target = normalizePatches(target);
      const perPatch = tf.mean(tf.square(tf.sub(pred, target)), -1); // [B, N]
      return maskedMean(perPatch, mask);
    });
  }
}

export const maeMethod = defineMethod({
  name: "mae",
  description:
    "MAE: encoder sees 25% of the patches, a light decoder reconstructs the masked ones' normalised pixels (He et al. 2021)",
  family: "masked",
  paper: {
    title: "Masked Autoencoders Are Scalable Vision Learners",
    url: "https://arxiv.org/abs/2111.06377",
  },
  inputs: ["image"],
  options: maeMethodOptions,
  tinyOptions: { decoderDim: 16, decoderDepth: 1, decoderHeads: 2 },
  defaultBackbone: () => ({ name: "vit-tiny", options: { maskMode: "remove" } }),
  create: (opts, ctx) => new MAE(opts, ctx),
});
