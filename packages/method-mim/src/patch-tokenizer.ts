/**
 * BEiT's visual tokenizer, trained by this package (the original's DALL-E dVAE cannot be
 * downloaded): each p x p patch of an image becomes one discrete token of a K-entry codebook.
 *
 * kind "vqvae": a small per-patch VQ-VAE: patch (p*p*C values) -> Linear -> ReLU -> Linear -> z
 *   -> vector quantiser (vq.ts) -> z_q -> Linear -> ReLU -> Linear -> reconstructed patch.
 * kind "kmeans": the fast option: z is the patch's raw pixels and the codebook is fitted by
 *   mini-batch k-means, written as gradient descent on the quantisation error ||sg(z) - e_k||^2
 *   (Bottou & Bengio, "Convergence Properties of the K-Means Algorithms", NIPS 1994); no decoder.
 *
 * As a FeatureModule (what evaluators read) it returns each image's bag of visual words: the
 * share of its patches assigned to each code, [B, K].
 */
import { fromPatches, Linear, Module, Rng, tf, toPatches } from "@selfsup/core";
import { VectorQuantizer } from "./vq.js";

export type TokenizerKind = "vqvae" | "kmeans";

/** Everything needed to rebuild a tokenizer; saved in its checkpoint as `state/spec`. */
export interface PatchTokenizerSpec {
  kind: TokenizerKind;
  patchSize: number;
  channels: number;
  height: number;
  width: number;
  codebookSize: number;
  codeDim: number;
  hiddenDim: number;
}

/** Layout of the `state/spec` vector (version first). */
export const SPEC_VERSION = 1;
export function specToVector(s: PatchTokenizerSpec): number[] {
  return [
    SPEC_VERSION,
    s.kind === "vqvae" ? 0 : 1,
    s.patchSize,
    s.channels,
    s.height,
    s.width,
    s.codebookSize,
    s.codeDim,
    s.hiddenDim,
  ];
}
export function specFromVector(v: ArrayLike<number>, where: string): PatchTokenizerSpec {
  if (v.length !== 9 || v[0] !== SPEC_VERSION) {
    throw new Error(
      `${where}: state/spec is not a beit-tokenizer spec of version ${SPEC_VERSION} (got [${Array.from(v).join(", ")}])`,
    );
  }
  const n = (i: number) => Math.round(v[i] as number);
  return {
    kind: n(1) === 0 ? "vqvae" : "kmeans",
    patchSize: n(2),
    channels: n(3),
    height: n(4),
    width: n(5),
    codebookSize: n(6),
    codeDim: n(7),
    hiddenDim: n(8),
  };
}

class PatchMlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(
    readonly inDim: number,
    readonly hiddenDim: number,
    readonly outDim: number,
    rng: Rng,
  ) {
    super();
    this.fc1 = this.addModule("fc1", new Linear(inDim, hiddenDim, rng));
    this.fc2 = this.addModule("fc2", new Linear(hiddenDim, outDim, rng));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(tf.relu(this.fc1.forward(x))));
  }
  protected recreate(): PatchMlp {
    return new PatchMlp(this.inDim, this.hiddenDim, this.outDim, new Rng(0));
  }
}

export class PatchTokenizer extends Module {
  readonly patchValues: number;
  readonly numPatches: number;
  readonly outputDim: number;
  readonly encoder: PatchMlp | undefined;
  readonly decoder: PatchMlp | undefined;
  readonly vq: VectorQuantizer;

  constructor(
    readonly spec: PatchTokenizerSpec,
    rng: Rng,
  ) {
    super();
    const { patchSize: p, channels, height, width, codebookSize } = spec;
    if (height % p !== 0 || width % p !== 0)
      throw new Error(`beit-tokenizer: patchSize ${p} must divide the image size ${height}x${width}`);
    this.patchValues = p * p * channels;
    this.numPatches = (height / p) * (width / p);
    this.outputDim = codebookSize;
    const codeDim = spec.kind === "kmeans" ? this.patchValues : spec.codeDim;
    if (spec.kind === "vqvae") {
      this.encoder = this.addModule("encoder", new PatchMlp(this.patchValues, spec.hiddenDim, codeDim, rng));
      this.decoder = this.addModule("decoder", new PatchMlp(codeDim, spec.hiddenDim, this.patchValues, rng));
    }
    this.vq = this.addModule("vq", new VectorQuantizer(codebookSize, codeDim, rng));
  }

  /** Images [B, H, W, C] -> patch rows [B*N, p*p*C]. */
  patchRows(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(
      () => tf.reshape(toPatches(x, this.spec.patchSize), [-1, this.patchValues]) as tf.Tensor2D,
    );
  }

  /** Encoder outputs z [M, D] of patch rows (the pixels themselves for k-means). */
  encode(rows: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => (this.encoder ? this.encoder.forward(rows) : tf.clone(rows)) as tf.Tensor2D);
  }

  /** Decoded patch rows [M, p*p*C] from (quantised) codes; k-means "decodes" to the code itself. */
  decode(zq: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => (this.decoder ? this.decoder.forward(zq) : tf.clone(zq)) as tf.Tensor2D);
  }

  /** The visual token of every patch: [B, N] int32, patches in row-major order. */
  tokenize(x: tf.Tensor): tf.Tensor2D {
    const b = x.shape[0] as number;
    return tf.tidy(
      () => tf.reshape(this.vq.nearest(this.encode(this.patchRows(x))), [b, this.numPatches]) as tf.Tensor2D,
    );
  }

  /** Images rebuilt from their tokens (for pictures). */
  reconstruct(x: tf.Tensor): tf.Tensor4D {
    const b = x.shape[0] as number;
    return tf.tidy(() => {
      const rows = this.decode(this.vq.forward(this.encode(this.patchRows(x))));
      const patches = tf.reshape(rows, [b, this.numPatches, this.patchValues]);
      return fromPatches(
        tf.clipByValue(patches, 0, 1),
        this.spec.patchSize,
        this.spec.height,
        this.spec.width,
      );
    });
  }

  /** Bag of visual words [B, K]: the share of each image's patches per code. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.mean(tf.cast(tf.oneHot(this.tokenize(x), this.spec.codebookSize), "float32"), 1));
  }

  protected recreate(): PatchTokenizer {
    return new PatchTokenizer(this.spec, new Rng(0));
  }
}
