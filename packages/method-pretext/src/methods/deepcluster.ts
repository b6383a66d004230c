/**
 * DeepCluster: alternate between clustering the network's features and learning to predict the
 * clusters.
 *
 * Caron, Bojanowski, Joulin, Douze, "Deep Clustering for Unsupervised Learning of Visual
 * Features", ECCV 2018. https://arxiv.org/abs/1807.05520
 *
 *   at each epoch start:  embed the training split with the current backbone (eval mode, no
 *     augmentation), PCA-whiten to `pcaDim` and L2-normalise, k-means (k-means++ seeding, empty
 *     clusters re-seeded by splitting a big one) -> pseudo-label y_i of every image;
 *     re-initialise the classifier
 *   each step:  loss = sum_i w(y_i) CE(c(f(aug(x_i))), y_i) / sum_i w(y_i)
 *
 * Sampling uniformly over clusters (the paper's guard against collapse into a few big clusters)
 * is done by weighting: the trainer owns the sampler, so each sample is weighted by
 * w(y) = N / (k_nonempty · |cluster y|), which is the same objective in expectation.
 * The step finds y_i without per-image storage: a frozen snapshot of the backbone taken at the
 * epoch start (saved with checkpoints, as are the whitening and the centroids) embeds the batch's
 * un-augmented images and assigns each to its nearest centroid, which is exactly the epoch-start
 * assignment. Memory: one batch of images plus the N x D feature matrix during clustering.
 * Metric `nmiPrevious`: NMI between this epoch's and the previous epoch's assignments (the paper's
 * stability curve; from the second clustering on). The optimizer's moments of the classifier are
 * not reset with its weights (the trainer owns them).
 */
import {
  defaultBackboneFor,
  defineMethod,
  type EpochContext,
  Linear,
  MethodBase,
  Rng,
  requireViews,
  type StepContext,
  type StepResult,
  softmaxCrossEntropy,
  type TrainBatch,
  tf,
} from "@selfsup/core";
import { z } from "zod";
import { kmeans, nmi, pcaWhitening, whiten } from "../clustering.js";
import { accuracy } from "../losses.js";

export const deepClusterMethodOptions = z.object({
  k: z
    .number()
    .int()
    .min(2)
    .default(100)
    .describe("number of clusters (paper: 10,000 on ImageNet; ~10x the classes)"),
  pcaDim: z
    .number()
    .int()
    .positive()
    .default(64)
    .describe("dimensions kept by PCA-whitening (paper: 256 of 4096)"),
  kmeansIterations: z.number().int().positive().default(20).describe("Lloyd iterations per clustering"),
  embedBatchSize: z
    .number()
    .int()
    .positive()
    .default(256)
    .describe("batch size of the epoch-start embedding pass"),
});
export type DeepClusterOptions = z.output<typeof deepClusterMethodOptions>;

export class DeepCluster extends MethodBase<DeepClusterOptions> {
  readonly views = 1;
  readonly backbone = this.addBackbone();
  /** The backbone as it was at the epoch start: assigns pseudo-labels during the epoch. */
  readonly snapshot = this.momentumCopyOf("snapshot", this.backbone);
  readonly classifier = this.module(
    "classifier",
    new Linear(this.backbone.outputDim, this.options.k, this.ctx.rng),
  );
  readonly dim = Math.min(this.options.pcaDim, this.backbone.outputDim);
  readonly pcaMean = this.stateVariable("pcaMean", tf.variable(tf.zeros([this.backbone.outputDim]), false));
  readonly pcaProjection = this.stateVariable(
    "pcaProjection",
    tf.variable(tf.eye(this.backbone.outputDim, this.dim), false),
  );
  /** Before the first clustering: random unit directions. */
  readonly centroids = this.stateVariable(
    "centroids",
    tf.variable(
      tf.tidy(() => {
        const seed = this.ctx.rng.seed();
        const c = tf.randomNormal([this.options.k, this.dim], 0, 1, "float32", seed);
        return tf.div(c, tf.norm(c, 2, 1, true));
      }),
      false,
    ),
  );
  /** Per-cluster loss weight that makes clusters count equally (uniform sampling over clusters). */
  readonly clusterWeights = this.stateVariable(
    "clusterWeights",
    tf.variable(tf.ones([this.options.k]), false),
  );
  /** Previous assignment of the training split (for NMI; not checkpointed). */
  private previous: Int32Array | undefined;
  private lastNmi: number | undefined;
  private notedSmallK = false;
  /** What the last clustering did, for tests and logs. */
  lastClustering: { n: number; reseeded: number; nonEmpty: number; nmiPrevious?: number } | undefined;

  /** The last clustering's pseudo-label of every training image, by dataset index. */
  assignment(): Int32Array | undefined {
    return this.previous;
  }

  /** Nearest-centroid cluster of un-augmented images x under the epoch-start snapshot: [B] int32. */
  pseudoLabels(x: tf.Tensor): tf.Tensor1D {
    this.snapshot.eval();
    return tf.tidy(() => {
      const h = tf.matMul(tf.sub(this.snapshot.forward(x), this.pcaMean), this.pcaProjection);
      const z = tf.div(h, tf.maximum(tf.norm(h, 2, 1, true), 1e-12));
      const c = this.centroids;
      const dist = tf.sub(tf.sum(tf.square(c), 1), tf.mul(tf.matMul(z, c, false, true), 2));
      return tf.argMin(dist, 1) as tf.Tensor1D;
    });
  }

  async onEpochStart(ctx: EpochContext): Promise<void> {
    this.snapshot.copyFrom(this.backbone);
    this.snapshot.eval();
    const d = this.backbone.outputDim;
    const chunks: Array<{ indices: number[]; features: Float32Array }> = [];
    let n = 0;
    for await (const { inputs, indices } of ctx.iterate(this.options.embedBatchSize)) {
      const f = tf.tidy(() => this.snapshot.forward(inputs));
      chunks.push({ indices, features: f.dataSync() as Float32Array });
      f.dispose();
      n += indices.length;
    }
    const features = new Float32Array(n * d);
    for (const { indices, features: f } of chunks)
      for (const [i, idx] of indices.entries()) features.set(f.subarray(i * d, (i + 1) * d), idx * d);
    chunks.length = 0;
    const w = pcaWhitening(features, n, d, this.dim);
    const z = whiten(features, n, d, w);
    const rng = new Rng(ctx.rng.seed());
    const k = Math.min(this.options.k, n);
    if (k < this.options.k && !this.notedSmallK) {
      // Said once a run: every epoch clusters the same split.
      this.notedSmallK = true;
      ctx.note?.(
        `deepcluster: method.options.k is ${this.options.k} but the training split has only ${n} images; clustering into ${k} clusters instead (set method.options.k to at most ${n}, ideally well below, to silence this)`,
      );
    }
    const result = kmeans(z, n, w.outDim, rng, { k, iterations: this.options.kmeansIterations });
    const centroids = new Float32Array(this.options.k * this.dim).fill(1e3);
    centroids.set(result.centroids);
    const nonEmpty = result.sizes.reduce((s, c) => s + (c > 0 ? 1 : 0), 0);
    const weights = Float32Array.from({ length: this.options.k }, (_, c) => {
      const size = c < k ? (result.sizes[c] as number) : 0;
      return size > 0 ? n / (nonEmpty * size) : 0;
    });
    tf.tidy(() => {
      this.pcaMean.assign(tf.tensor1d(w.mean));
      this.pcaProjection.assign(tf.tensor2d(w.projection, [d, this.dim]));
      this.centroids.assign(tf.tensor2d(centroids, [this.options.k, this.dim]));
      this.clusterWeights.assign(tf.tensor1d(weights));
    });
    const fresh = new Linear(d, this.options.k, new Rng(ctx.rng.seed()));
    this.classifier.copyFrom(fresh);
    fresh.dispose();
    this.lastNmi = this.previous ? nmi(this.previous, result.assignment) : undefined;
    this.previous = result.assignment;
    this.lastClustering = {
      n,
      reseeded: result.reseeded,
      nonEmpty,
      ...(this.lastNmi !== undefined ? { nmiPrevious: this.lastNmi } : {}),
    };
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    return ctx.minimize(() => {
      const [view] = requireViews(batch, 1, this.name) as [tf.Tensor];
      const labels = this.pseudoLabels(batch.inputs);
      const logits = this.classifier.forward(this.backbone.forward(view));
      const loss = softmaxCrossEntropy(logits, labels, tf.gather(this.clusterWeights, labels));
      const metrics: Record<string, tf.Scalar> = { accuracy: accuracy(logits, labels) };
      if (this.lastNmi !== undefined) metrics.nmiPrevious = tf.scalar(this.lastNmi);
      return { loss, metrics };
    });
  }
}

export const deepClusterMethod = defineMethod({
  name: "deepcluster",
  description:
    "DeepCluster: each epoch k-means (PCA-whitened, k-means++) on the backbone's features gives pseudo-labels, balanced over clusters, for a re-initialised classifier (Caron et al. 2018)",
  family: "pretext",
  paper: {
    title: "Deep Clustering for Unsupervised Learning of Visual Features",
    url: "https://arxiv.org/abs/1807.05520",
  },
  inputs: ["image"],
  options: deepClusterMethodOptions,
  tinyOptions: { k: 4, pcaDim: 8, kmeansIterations: 5 },
  defaultBackbone: defaultBackboneFor,
  composable: true,
  create: (opts, ctx) => new DeepCluster(opts, ctx),
});
