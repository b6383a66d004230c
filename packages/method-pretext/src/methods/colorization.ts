/**
 * Colorization: predict an image's colours (a*b*) from its lightness (L*).
 *
 * Zhang, Isola, Efros, "Colorful Image Colorization", ECCV 2016. https://arxiv.org/abs/1603.08511
 *
 *   x (sRGB) -> Lab;  input L/50 - 1 (one channel);  target ab on a coarse H/4 x W/4 grid
 *   classification (the paper's): ab quantised to the in-gamut bins of side 10 (Q of them),
 *     z = nearest bin,  loss = mean over cells of v(z) · CE(logits, z)
 *     class rebalancing: v = 1 / ((1 - lambda) p~ + lambda / Q), scaled so that E_p~[v] = 1, with p~
 *     the training set's bin distribution smoothed by a Gaussian (sigma 5) in ab, lambda = 1/2
 *   regression (option): loss = mean (ab^/110 - ab/110)², which the paper shows desaturates
 *
 * The backbone (built for one-channel input) gives a vector; a small decoder maps it to the
 * H/4 x W/4 grid of bin logits (Linear -> ReLU -> per-cell Linear). The prior p~ is counted over
 * the training split at the first epoch's start (no network involved) and saved with checkpoints.
 * Simplifications: hard nearest-bin targets (the paper soft-encodes over the 5 nearest bins), and
 * our bin set comes from sampling the sRGB cube (261 bins; the paper's 313 come from its data).
 * The representation evaluators read is the backbone on the image's lightness (`LightnessEncoder`).
 * On one-channel datasets it refuses: there is no colour to predict.
 */
import {
  defaultBackboneFor,
  defineMethod,
  type EpochContext,
  type FeatureModule,
  type InputSpec,
  Linear,
  MethodBase,
  Module,
  type StepContext,
  type StepResult,
  softmaxNll,
  type TrainBatch,
  tf,
} from "@selfsup/core";
import { z } from "zod";
import { inGamutAbBins, rgbToLab } from "../lab.js";
import { accuracy } from "../losses.js";

export const colorizationMethodOptions = z.object({
  loss: z
    .enum(["classification", "regression"])
    .default("classification")
    .describe("classification over quantised ab bins (the paper's) or plain ab regression"),
  rebalance: z.boolean().default(true).describe("weight classes by the smoothed-prior rule of the paper"),
  lambda: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe("mixing weight of the uniform distribution in rebalancing"),
  sigma: z
    .number()
    .positive()
    .default(5)
    .describe("std (in ab units) of the Gaussian smoothing of the prior"),
  decoderHiddenDim: z
    .number()
    .int()
    .positive()
    .default(64)
    .describe("features per output cell of the decoder"),
});
export type ColorizationOptions = z.output<typeof colorizationMethodOptions>;

const BIN_GRID = 10;
/** Output cells are this many pixels on a side. */
const CELL = 4;
let cachedBins: Array<[number, number]> | undefined;

/** The in-gamut ab bins (computed once per process). */
export function colorizationBins(): Array<[number, number]> {
  cachedBins ??= inGamutAbBins(BIN_GRID);
  return cachedBins;
}

/** The RGB input spec, or the refusal that says why and what to use instead. */
export function requireRgb(input: InputSpec): Extract<InputSpec, { kind: "image" }> {
  if (input.kind !== "image" || input.channels !== 3) {
    const got = input.kind === "image" ? `${input.channels}-channel images` : `${input.kind} inputs`;
    throw new Error(
      `colorization needs RGB images (3 channels) but the dataset has ${got}: there is no colour to predict. ` +
        'Use an RGB dataset, e.g. "synthetic" with channels 3 or "cifar10".',
    );
  }
  return input;
}

/** Lightness L/50 - 1 in [-1, 1] of sRGB images [B,H,W,3]: [B,H,W,1]. */
export function lightness(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.div(tf.slice(rgbToLab(x), [0, 0, 0, 0], [-1, -1, -1, 1]), 50), 1));
}

/** The backbone on the lightness of RGB images: the representation colorization learns. */
export class LightnessEncoder extends Module implements FeatureModule {
  readonly outputDim: number;
  readonly backbone: FeatureModule;

  constructor(backbone: FeatureModule) {
    super();
    this.backbone = this.addModule("backbone", backbone);
    this.outputDim = backbone.outputDim;
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.backbone.forward(lightness(x)));
  }

  protected recreate(): LightnessEncoder {
    return new LightnessEncoder(this.backbone.clone());
  }
}

/** The ab grid of sRGB images: mean a, b over each CELL x CELL block, [B, ceil(H/4), ceil(W/4), 2]. */
export function abTargets(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const ab = tf.slice(rgbToLab(x), [0, 0, 0, 1], [-1, -1, -1, 2]) as tf.Tensor4D;
    return tf.avgPool(ab, CELL, CELL, "same");
  });
}

/** Index of the nearest bin of every ab pair [N, 2] -> [N] int32. */
export function nearestBin(ab: tf.Tensor, bins: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const d = tf.sub(
      tf.sum(tf.square(bins), 1),
      tf.mul(tf.matMul(tf.reshape(ab, [-1, 2]), bins, false, true), 2),
    );
    return tf.argMin(d, 1) as tf.Tensor1D;
  });
}

/**
 * Zhang et al.'s class weights from bin counts: p~ = Gaussian-smoothed (in ab) empirical
 * distribution, v = 1 / ((1 - lambda) p~ + lambda / Q), normalised so that sum p~ v = 1.
 */
export function rebalancingWeights(
  counts: ArrayLike<number>,
  bins: Array<[number, number]>,
  lambda: number,
  sigma: number,
): Float32Array {
  const q = bins.length;
  const total = Array.from(counts).reduce((s, c) => s + c, 0) || 1;
  const smooth = new Float64Array(q);
  for (let i = 0; i < q; i++) {
    const [ai, bi] = bins[i] as [number, number];
    for (let j = 0; j < q; j++) {
      const c = counts[j] as number;
      if (c === 0) continue;
      const [aj, bj] = bins[j] as [number, number];
      smooth[i] += (c / total) * Math.exp(-((ai - aj) ** 2 + (bi - bj) ** 2) / (2 * sigma * sigma));
    }
  }
  const s = smooth.reduce((a, v) => a + v, 0) || 1;
  const p = smooth.map((v) => v / s);
  const v = p.map((pi) => 1 / ((1 - lambda) * pi + lambda / q));
  const norm = p.reduce((a, pi, i) => a + pi * (v[i] as number), 0);
  return Float32Array.from(v, (x) => x / norm);
}

export class Colorization extends MethodBase<ColorizationOptions> {
  readonly views = 0;
  readonly rgb = requireRgb(this.ctx.input);
  readonly bins = colorizationBins();
  readonly backbone = this.module(
    "backbone",
    this.ctx.buildBackbone(undefined, undefined, { ...this.rgb, channels: 1 }),
  );
  readonly gridH = Math.ceil(this.rgb.height / CELL);
  readonly gridW = Math.ceil(this.rgb.width / CELL);
  readonly fc = this.module(
    "decoder_fc",
    new Linear(
      this.backbone.outputDim,
      this.gridH * this.gridW * this.options.decoderHiddenDim,
      this.ctx.rng,
    ),
  );
  readonly out = this.module(
    "decoder_out",
    new Linear(
      this.options.decoderHiddenDim,
      this.options.loss === "classification" ? this.bins.length : 2,
      this.ctx.rng,
    ),
  );
  /** Rebalancing weight per bin (all 1 until the prior is counted). */
  readonly classWeights = this.stateVariable("classWeights", tf.variable(tf.ones([this.bins.length]), false));
  /** 1 once the prior has been counted over the training split. */
  readonly priorReady = this.stateVariable("priorReady", tf.variable(tf.zeros([1]), false));
  readonly lightnessEncoder = this.useEncoder(new LightnessEncoder(this.backbone));

  private useEncoder(e: LightnessEncoder): LightnessEncoder {
    this.setEncoder(e);
    return e;
  }

  /** Counts the training split's ab bins once (first epoch start) and sets the class weights. */
  async onEpochStart(ctx: EpochContext): Promise<void> {
    if (this.options.loss !== "classification" || !this.options.rebalance) return;
    if ((this.priorReady.dataSync()[0] as number) > 0) return;
    const counts = new Float64Array(this.bins.length);
    const bins = tf.tensor2d(this.bins);
    try {
      for await (const { inputs } of ctx.iterate(256)) {
        const idx = tf.tidy(() => nearestBin(abTargets(inputs), bins));
        for (const i of idx.dataSync()) counts[i] = (counts[i] as number) + 1;
        idx.dispose();
      }
    } finally {
      bins.dispose();
    }
    const w = rebalancingWeights(counts, this.bins, this.options.lambda, this.options.sigma);
    tf.tidy(() => {
      this.classWeights.assign(tf.tensor1d(w));
      this.priorReady.assign(tf.ones([1]));
    });
  }

  /** Per-cell decoder output [B, gridH, gridW, Q or 2] from RGB images. */
  predict(x: tf.Tensor): tf.Tensor {
    const b = x.shape[0] as number;
    return tf.tidy(() => {
      const h = this.backbone.forward(lightness(x));
      const cells = tf.relu(
        tf.reshape(this.fc.forward(h), [b, this.gridH, this.gridW, this.options.decoderHiddenDim]),
      );
      return this.out.forward(cells);
    });
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    return ctx.minimize(() => {
      const x = batch.inputs;
      const target = abTargets(x);
      const pred = this.predict(x);
      if (this.options.loss === "regression") {
        const loss = tf.mean(tf.squaredDifference(pred, tf.div(target, 110))) as tf.Scalar;
        return { loss };
      }
      const z = nearestBin(target, tf.tensor2d(this.bins));
      const q = this.bins.length;
      const ce = softmaxNll(tf.reshape(pred, [-1, q]), z);
      const v = tf.gather(this.classWeights, z);
      const loss = tf.mean(tf.mul(ce, v)) as tf.Scalar;
      return { loss, metrics: { binAccuracy: accuracy(pred, z) } };
    });
  }
}

export const colorizationMethod = defineMethod({
  name: "colorization",
  description:
    "Colorization: L -> ab as classification over quantised in-gamut ab bins with prior-based rebalancing, or regression (Zhang et al. 2016); RGB datasets only",
  family: "pretext",
  paper: { title: "Colorful Image Colorization", url: "https://arxiv.org/abs/1603.08511" },
  inputs: ["image"],
  options: colorizationMethodOptions,
  tinyOptions: { decoderHiddenDim: 8 },
  defaultBackbone: defaultBackboneFor,
  composable: true,
  create: (opts, ctx) => new Colorization(opts, ctx),
});
