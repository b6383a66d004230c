/**
 * beit-tokenizer: trains the visual tokenizer BEiT predicts (see ../patch-tokenizer.ts).
 *
 * BEiT (Bao et al. 2021, https://arxiv.org/abs/2106.08254, sec. 2.2) uses the discrete VAE of
 * DALL-E (Ramesh et al. 2021) as its tokenizer; that model cannot be downloaded here, so this
 * method trains a small one: a per-patch VQ-VAE (van den Oord et al. 2017,
 * https://arxiv.org/abs/1711.00937)
 *
 *   z = Enc(patch),  k = argmin_k ||z - e_k||,  z_q = e_k,  patch' = Dec(z + sg(z_q - z))
 *   loss = ||patch' - patch||^2 + ||sg(z) - z_q||^2 + beta ||z - sg(z_q)||^2        (beta = 0.25)
 *
 * or, with kind "kmeans" (the fast option), mini-batch k-means on the raw patch pixels:
 * loss = ||sg(patch) - e_k(patch)||^2 with the codebook as the only trainable variable.
 *
 * The codebook starts from encoder outputs of the first batch (data-dependent init), and codes
 * that fall out of use are re-seeded (dead-code re-seeding as in Dhariwal et al. 2020, "Jukebox",
 * sec. 3.2 and Zeghidour et al. 2021): every `reseedEvery` steps, each code whose share of the
 * patches seen since the previous pass is below `deadShare / K` is moved to a random encoder
 * output of the current batch. Codebook usage is reported as its perplexity exp(H(p)) (K = every code used
 * evenly, 1 = collapse) on the batch, and as the running usage histogram (`usage()`).
 *
 * BEiT reads the trained tokenizer from this method's checkpoint (module "tokenizer" and state
 * "spec", see ../tokenizer-checkpoint.ts). Paper tokenizer: 8,192 codes; defaults here: 64 codes
 * of 16 dimensions over the run's ViT's patches (4x4 by default; the digits have few distinct patch
 * shapes).
 */
import {
  type Dataset,
  defineMethod,
  type InputSpec,
  type MethodArtifact,
  MethodBase,
  type MethodBuildContext,
  type StepContext,
  type StepResult,
  type TrainBatch,
  tf,
  vitOptions,
} from "@selfsup/core";
import { z } from "zod";
import { PatchTokenizer, specToVector } from "../patch-tokenizer.js";
import { writeCodebookUsage } from "../pictures.js";
import { TOKENIZER_MODULE, TOKENIZER_SPEC_STATE } from "../tokenizer-checkpoint.js";
import { codebookPerplexityTensor } from "../vq.js";

export const beitTokenizerMethodOptions = z.object({
  kind: z
    .enum(["vqvae", "kmeans"])
    .default("vqvae")
    .describe('"vqvae": per-patch VQ-VAE; "kmeans": fast mini-batch k-means on patch pixels'),
  patchSize: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      "patch side in pixels: must equal BEiT's ViT patch size (default: the run's backbone's when it is vit-tiny, else 4)",
    ),
  codebookSize: z.number().int().min(2).default(64).describe("number of visual tokens K (BEiT's dVAE: 8192)"),
  codeDim: z.number().int().positive().default(16).describe("code vector width (vqvae)"),
  hiddenDim: z
    .number()
    .int()
    .positive()
    .default(64)
    .describe("hidden width of the patch encoder and decoder (vqvae)"),
  commitmentCost: z.number().min(0).default(0.25).describe("beta of the commitment loss (VQ-VAE: 0.25)"),
  reseedEvery: z.number().int().positive().default(20).describe("steps between dead-code re-seeding passes"),
  deadShare: z
    .number()
    .min(0)
    .max(1)
    .default(0.1)
    .describe("a code is dead when its running share of patches is below deadShare / K"),
});
export type BeitTokenizerOptions = z.output<typeof beitTokenizerMethodOptions>;

const USAGE_DECAY = 0.99;

/**
 * Patch side of the run's backbone when it is core's vit-tiny, read from its options: nothing is
 * built (building would draw from the run's init stream, and in a composed run would hand back the
 * shared backbone).
 */
function backbonePatchSize(ctx: MethodBuildContext): number | undefined {
  const choice = ctx.backboneChoice;
  if (choice?.name !== "vit-tiny") return undefined;
  const parsed = vitOptions.safeParse(choice.options);
  return parsed.success ? parsed.data.patchSize : undefined;
}

export class BeitTokenizer extends MethodBase<BeitTokenizerOptions> {
  readonly views = 0;
  /** The option, else the run's ViT's patch size (BEiT predicts one token per ViT patch), else 4. */
  readonly patchSize = this.options.patchSize ?? backbonePatchSize(this.ctx) ?? 4;
  readonly tokenizer = this.module(
    TOKENIZER_MODULE,
    new PatchTokenizer(
      {
        kind: this.options.kind,
        patchSize: this.patchSize,
        ...imageSize(this.ctx.input),
        codebookSize: this.options.codebookSize,
        codeDim: this.options.codeDim,
        hiddenDim: this.options.hiddenDim,
      },
      this.ctx.rng,
    ),
  );
  readonly spec = this.stateVariable(
    TOKENIZER_SPEC_STATE,
    tf.variable(tf.tensor1d(specToVector(this.tokenizer.spec)), false),
  );
  /** Running share of patches per code (EMA over steps), [K]. */
  readonly usageEma = this.stateVariable(
    "usage",
    tf.variable(tf.fill([this.options.codebookSize], 1 / this.options.codebookSize), false),
  );
  /** Patches per code since the last re-seeding pass, [K]: what decides which codes are dead. */
  readonly window = this.stateVariable("window", tf.variable(tf.zeros([this.options.codebookSize]), false));
  /** 0 until the codebook has been initialised from data. */
  readonly initialised = this.stateVariable("initialised", tf.variable(tf.scalar(0), false));

  constructor(options: BeitTokenizerOptions, ctx: MethodBuildContext) {
    super(options, ctx);
    this.setEncoder(this.tokenizer);
  }

  /** The running usage histogram (share of patches per code). */
  usage(): Float32Array {
    return this.usageEma.dataSync() as Float32Array;
  }

  /** Moves `codes` to random rows of z (outside the tape). */
  private reseed(codes: number[], rows: tf.Tensor2D, ctx: StepContext): void {
    if (codes.length === 0) return;
    const m = rows.shape[0];
    const pick = codes.map(() => ctx.rng.int(m));
    tf.tidy(() => {
      const z = this.tokenizer.encode(rows);
      const chosen = tf.gather(z, tf.tensor1d(pick, "int32")); // no gradient needed here
      const k = this.options.codebookSize;
      const sel = new Float32Array(k);
      const place = new Float32Array(k * codes.length);
      codes.forEach((c, i) => {
        sel[c] = 1;
        place[c * codes.length + i] = 1;
      });
      const selected = tf.tensor1d(sel);
      const keep = tf.reshape(tf.sub(1, selected), [k, 1]);
      const moved = tf.matMul(tf.tensor2d(place, [k, codes.length]), chosen as tf.Tensor2D);
      this.tokenizer.vq.codebook.assign(tf.add(tf.mul(this.tokenizer.vq.codebook, keep), moved));
      const usage = tf.add(tf.mul(this.usageEma, tf.sub(1, selected)), tf.mul(selected, 1 / k));
      this.usageEma.assign(usage);
    });
  }

  /** The codebook's usage over the first test images as a run artifact (../pictures.ts). */
  writeArtifacts(ctx: { dataset: Dataset; dir: string }): Promise<MethodArtifact[]> {
    return writeCodebookUsage(this.tokenizer, ctx.dataset, ctx.dir);
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const rows = this.tokenizer.patchRows(batch.inputs);
    const k = this.options.codebookSize;
    let counts: tf.Tensor1D | undefined;
    try {
      if (this.initialised.dataSync()[0] === 0) {
        this.reseed(
          Array.from({ length: k }, (_, i) => i),
          rows,
          ctx,
        );
        tf.tidy(() => this.initialised.assign(tf.scalar(1)));
      }
      const result = ctx.minimize(() => {
        const z = this.tokenizer.encode(rows);
        const q = this.tokenizer.vq.quantize(z);
        counts = tf.keep(q.counts);
        const metrics: Record<string, tf.Scalar> = { codebookPerplexity: codebookPerplexityTensor(q.counts) };
        let loss: tf.Scalar;
        if (this.options.kind === "vqvae") {
          const recon = tf.mean(tf.square(tf.sub(this.tokenizer.decode(q.zq), rows))) as tf.Scalar;
          metrics.reconMse = recon;
          loss = tf.addN([
            recon,
            q.codebookLoss,
            tf.mul(this.options.commitmentCost, q.commitLoss),
          ]) as tf.Scalar;
        } else {
          loss = q.codebookLoss;
        }
        return { loss, metrics };
      });
      const m = rows.shape[0];
      tf.tidy(() => {
        this.usageEma.assign(
          tf.add(tf.mul(this.usageEma, USAGE_DECAY), tf.mul(counts as tf.Tensor1D, (1 - USAGE_DECAY) / m)),
        );
        this.window.assign(tf.add(this.window, counts as tf.Tensor1D));
      });
      let reseeded = 0;
      if ((ctx.step + 1) % this.options.reseedEvery === 0) {
        const window = this.window.dataSync() as Float32Array;
        const total = window.reduce((a, b) => a + b, 0);
        const dead: number[] = [];
        window.forEach((c, i) => {
          if (c / total < this.options.deadShare / k) dead.push(i);
        });
        tf.tidy(() => this.window.assign(tf.zerosLike(this.window)));
        this.reseed(dead, rows, ctx);
        reseeded = dead.length;
      }
      return { loss: result.loss, metrics: { ...result.metrics, reseededCodes: reseeded } };
    } finally {
      rows.dispose();
      counts?.dispose();
    }
  }
}

function imageSize(input: InputSpec): { height: number; width: number; channels: number } {
  if (input.kind !== "image") throw new Error(`beit-tokenizer needs image inputs, got ${input.kind}`);
  return { height: input.height, width: input.width, channels: input.channels };
}

export const beitTokenizerMethod = defineMethod({
  name: "beit-tokenizer",
  description:
    "BEiT's visual tokenizer: per-patch VQ-VAE (straight-through, commitment loss, dead-code re-seeding) or fast k-means",
  family: "masked",
  paper: {
    title: "Neural Discrete Representation Learning (VQ-VAE)",
    url: "https://arxiv.org/abs/1711.00937",
  },
  inputs: ["image"],
  options: beitTokenizerMethodOptions,
  tinyOptions: { codebookSize: 8, codeDim: 4, hiddenDim: 16, reseedEvery: 5 },
  // The tokenizer trains no backbone (it only reads a ViT's patch size); naming BEiT's keeps a run
  // (and the bench's random-init baseline) on BEiT's patches and from building a convnet for nothing.
  defaultBackbone: () => ({ name: "vit-tiny", options: { maskMode: "token" } }),
  create: (opts, ctx) => new BeitTokenizer(opts, ctx),
});
