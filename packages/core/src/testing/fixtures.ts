/**
 * Small, self-contained fixtures for tests of trainers, evaluators and methods: a tiny linear
 * layer and MLP encoder, a synthetic labelled image dataset (and a token one), and a toy
 * autoencoder method. Nothing here depends on core's layers or datasets, so it stays fast on the
 * cpu backend and stable while those evolve.
 */
import pngjs from "pngjs";
import { z } from "zod";
import type { FeatureModule } from "../nn/module.js";
import { Module } from "../nn/module.js";
import type {
  Dataset,
  DatasetSplit,
  InputSpec,
  LossOutput,
  Method,
  MethodBuildContext,
  MethodSpec,
  Sample,
  StepContext,
  TrainBatch,
} from "../plugin/types.js";
import { Rng } from "../rng.js";
import { tf } from "../tf.js";

function normalInit(shape: number[], std: number, rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * std;
  return tf.tensor(v, shape);
}

/** y = x W + b with W [in, out] ~ N(0, 1/in) (decayed) and b = 0 (not decayed). */
export class TinyLinear extends Module implements FeatureModule {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  get outputDim(): number {
    return this.outFeatures;
  }

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    rng: Rng,
  ) {
    super();
    this.weight = this.addParameter(
      "weight",
      normalInit([inFeatures, outFeatures], 1 / Math.sqrt(inFeatures), rng),
    );
    this.bias = this.addParameter("bias", tf.zeros([outFeatures]), { decay: false });
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(tf.matMul(tf.reshape(x, [-1, this.inFeatures]), this.weight), this.bias));
  }

  protected recreate(): TinyLinear {
    return new TinyLinear(this.inFeatures, this.outFeatures, new Rng(0));
  }
}

/** Flatten -> Linear -> tanh -> Linear: a feature module for any input shape with `inputDim` values. */
export class TinyMLP extends Module implements FeatureModule {
  readonly fc1: TinyLinear;
  readonly fc2: TinyLinear;
  readonly outputDim: number;

  constructor(
    readonly inputDim: number,
    readonly hiddenDim: number,
    outputDim: number,
    rng: Rng,
  ) {
    super();
    this.outputDim = outputDim;
    this.fc1 = this.addModule("fc1", new TinyLinear(inputDim, hiddenDim, rng));
    this.fc2 = this.addModule("fc2", new TinyLinear(hiddenDim, outputDim, rng));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() =>
      this.fc2.forward(
        tf.tanh(this.fc1.forward(tf.cast(tf.reshape(x, [x.shape[0] as number, -1]), "float32"))),
      ),
    );
  }

  protected recreate(): TinyMLP {
    return new TinyMLP(this.inputDim, this.hiddenDim, this.outputDim, new Rng(0));
  }
}

export function inputSize(input: InputSpec): number {
  return input.kind === "image" ? input.height * input.width * input.channels : input.seqLen;
}

/** A tiny encoder for any input spec (tokens are fed as their ids scaled to [0, 1]). */
export function tinyEncoder(input: InputSpec, rng: Rng, outputDim = 16): FeatureModule {
  if (input.kind === "image") return new TinyMLP(inputSize(input), 32, outputDim, rng);
  return new TokenMLP(input, outputDim, rng);
}

class TokenMLP extends Module implements FeatureModule {
  readonly mlp: TinyMLP;
  constructor(
    readonly input: Extract<InputSpec, { kind: "text" }>,
    readonly outputDim: number,
    rng: Rng,
  ) {
    super();
    this.mlp = this.addModule("mlp", new TinyMLP(input.seqLen, 32, outputDim, rng));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.mlp.forward(tf.div(tf.cast(x, "float32"), this.input.vocabSize)));
  }
  protected recreate(): TokenMLP {
    return new TokenMLP(this.input, this.outputDim, new Rng(0));
  }
}

class ArraySplit implements DatasetSplit {
  constructor(private readonly samples: Sample[]) {}
  get size(): number {
    return this.samples.length;
  }
  async get(index: number): Promise<Sample> {
    const s = this.samples[index];
    if (!s) throw new RangeError(`index ${index} is outside [0, ${this.samples.length})`);
    return s;
  }
}

/** A split over samples held in memory. */
export function arraySplit(samples: Sample[]): DatasetSplit {
  return new ArraySplit(samples);
}

export interface TinyImageDatasetOptions {
  /** Training samples (default 128) and test samples (default 64). */
  size?: number;
  testSize?: number;
  classes?: number;
  height?: number;
  width?: number;
  channels?: number;
  /** Std of the per-pixel noise around each class prototype (default 0.15). */
  noise?: number;
  seed?: number;
}

/**
 * Labelled synthetic images: each class is a random prototype image in [0, 1]; a sample is its
 * class's prototype plus Gaussian noise, clipped to [0, 1]. Sample i has label i mod classes.
 */
export function tinyImageDataset(opts: TinyImageDatasetOptions = {}): Dataset {
  const classes = opts.classes ?? 4;
  const input: InputSpec = {
    kind: "image",
    height: opts.height ?? 8,
    width: opts.width ?? 8,
    channels: opts.channels ?? 1,
  };
  const per = inputSize(input);
  const rng = new Rng(opts.seed ?? 0);
  const protos = Array.from({ length: classes }, () => Float32Array.from({ length: per }, () => rng.next()));
  const noise = opts.noise ?? 0.15;
  const make = (n: number) =>
    Array.from({ length: n }, (_, i): Sample => {
      const label = i % classes;
      const proto = protos[label] as Float32Array;
      const data = new Float32Array(per);
      for (let j = 0; j < per; j++)
        data[j] = Math.min(1, Math.max(0, (proto[j] as number) + noise * rng.normal()));
      return { data, label };
    });
  return {
    name: "tiny-images",
    input,
    numClasses: classes,
    train: arraySplit(make(opts.size ?? 128)),
    test: arraySplit(make(opts.testSize ?? 64)),
  };
}

/** Synthetic token sequences: class c repeats a class-specific random motif with random substitutions. */
export function tinyTextDataset(
  opts: { size?: number; vocabSize?: number; seqLen?: number; classes?: number; seed?: number } = {},
): Dataset {
  const vocab = opts.vocabSize ?? 32;
  const seqLen = opts.seqLen ?? 16;
  const classes = opts.classes ?? 4;
  const rng = new Rng(opts.seed ?? 0);
  const motifs = Array.from({ length: classes }, () => Array.from({ length: 4 }, () => rng.int(vocab)));
  const make = (n: number) =>
    Array.from({ length: n }, (_, i): Sample => {
      const label = i % classes;
      const motif = motifs[label] as number[];
      const data = Int32Array.from({ length: seqLen }, (_, t) =>
        rng.next() < 0.2 ? rng.int(vocab) : (motif[t % 4] as number),
      );
      return { data, label };
    });
  return {
    name: "tiny-text",
    input: { kind: "text", vocabSize: vocab, seqLen },
    numClasses: classes,
    train: arraySplit(make(opts.size ?? 128)),
    test: arraySplit(make(64)),
  };
}

/** A dataset whose input spec matches `input` (images or tokens). */
export function tinyDatasetFor(input: InputSpec, seed = 0): Dataset {
  return input.kind === "image"
    ? tinyImageDataset({ height: input.height, width: input.width, channels: input.channels, seed })
    : tinyTextDataset({ vocabSize: input.vocabSize, seqLen: input.seqLen, seed });
}

const toyOptions = z.object({
  /** Std of Gaussian noise added to the input before encoding (a denoising autoencoder when > 0). */
  noise: z.number().min(0).default(0),
});

/**
 * A toy method: reconstruct the input from the encoder's features with a linear decoder (mean
 * squared error). It is the smallest honest Method: it owns its modules, draws randomness from
 * `ctx.rng`, and disposes everything it creates.
 */
export class ToyAutoencoder implements Method {
  readonly name = "toy-autoencoder";
  readonly views = 0;
  readonly enc: FeatureModule;
  readonly decoder: TinyLinear;

  constructor(
    readonly opts: z.output<typeof toyOptions>,
    ctx: MethodBuildContext,
  ) {
    this.enc = ctx.buildBackbone();
    this.decoder = new TinyLinear(this.enc.outputDim, inputSize(ctx.input), ctx.rng);
  }

  loss(inputs: tf.Tensor, rng: Rng): LossOutput {
    return tf.tidy(() => {
      const x = tf.cast(tf.reshape(inputs, [inputs.shape[0] as number, -1]), "float32");
      const noisy =
        this.opts.noise > 0
          ? tf.add(x, tf.randomNormal(x.shape, 0, this.opts.noise, "float32", rng.seed()))
          : x;
      const recon = this.decoder.forward(this.enc.forward(tf.reshape(noisy, inputs.shape)));
      const loss = tf.mean(tf.square(tf.sub(recon, x))) as tf.Scalar;
      return {
        loss,
        metrics: { feature_std: tf.mean(tf.moments(this.enc.forward(inputs), 0).variance) as tf.Scalar },
      };
    });
  }

  trainStep(batch: TrainBatch, ctx: StepContext) {
    return ctx.minimize(() => this.loss(batch.inputs, ctx.rng));
  }

  encoder(): FeatureModule {
    return this.enc;
  }

  modules(): Record<string, Module> {
    return { encoder: this.enc, decoder: this.decoder };
  }

  trainableVariables(): tf.Variable[] {
    return [...this.enc.trainableVariables(), ...this.decoder.trainableVariables()];
  }

  dispose(): void {
    this.enc.dispose();
    this.decoder.dispose();
  }
}

export const toyAutoencoderSpec: MethodSpec<typeof toyOptions> = {
  name: "toy-autoencoder",
  description: "Reconstructs the input through the encoder and a linear decoder (test fixture).",
  family: "other",
  inputs: ["image", "text"],
  options: toyOptions,
  create: (opts, ctx) => new ToyAutoencoder(opts, ctx),
};

/** A MethodBuildContext whose backbone is `tinyEncoder` (or `backbone`). */
export function tinyBuildContext(
  input: InputSpec,
  rng: Rng,
  backbone?: (input: InputSpec, rng: Rng) => FeatureModule,
): MethodBuildContext {
  return {
    input,
    rng,
    buildBackbone: (_name, _options, on = input) => (backbone ? backbone(on, rng) : tinyEncoder(on, rng)),
    buildHead: (_name, options, inputDim) => {
      const out = Number((options as { outputDim?: number }).outputDim ?? 16);
      return new TinyMLP(inputDim, 32, out, rng);
    },
  };
}

/**
 * An 8-bit gray PNG of `size` x `size` whose pixel (x, y) is `(x * 16 + y * 8 + seed * 29) % 256`,
 * for tests of image folders and image input (encoded by pngjs, core's PNG library).
 */
export function grayPng(size: number, seed: number): Buffer {
  const png = new pngjs.PNG({ width: size, height: size });
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = (x * 16 + y * 8 + seed * 29) % 256;
      png.data.set([v, v, v, 255], (y * size + x) * 4);
    }
  }
  return pngjs.PNG.sync.write(png, { colorType: 0 });
}
