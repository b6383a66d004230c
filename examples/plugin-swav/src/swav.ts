/**
 * SwAV: predict the cluster assignment (code) of one view from another view, with codes made by
 * an equipartition (Sinkhorn-Knopp) over learnable prototypes, online, batch by batch.
 *
 * Caron et al., "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments",
 * NeurIPS 2020. https://arxiv.org/abs/2006.09882
 *
 *   z_v = normalize(g(f(x_v)))               backbone + projector, for every view v
 *   C   = normalize(prototypes) [K, D]       re-normalised before each step (as the reference code)
 *   S_v = z_v C^T                            prototype scores
 *   q_v = SinkhornKnopp(S_v; eps, 3 iters)   codes of the 2 global views, without gradient
 *   loss = mean over (i global, j != i) of  - mean_b sum_k q_i log softmax(S_j / t)
 *
 * Multi-crop: the trainer's pipeline makes the 2 global views; `localViews` small crops of each
 * batch come from this plugin's "local-crop" augmentation, predicted from the global codes too.
 * The paper freezes the prototypes during the first epoch; `freezePrototypesSteps` does the same
 * in steps. Small batches would want the paper's queue of past embeddings; it is left out here.
 *
 * Paper defaults (ImageNet): K = 3000 prototypes, D = 128, eps = 0.05, t = 0.1, 2x224 + 6x96
 * crops. Defaults here (digits): K = 32, D = 64, 2 local views.
 */
import {
  defaultBackboneFor,
  defineMethod,
  l2Normalize,
  MethodBase,
  Module,
  projectorWidthOptions,
  projectorWidths,
  Rng,
  type StepContext,
  type StepResult,
  stopGradient,
  type TrainBatch,
  tf,
  twoViews,
} from "@selfsup/core";
import { z } from "zod";
import { localCrops } from "./multi-crop.js";
import { sinkhornKnopp, swappedPredictionLoss } from "./sinkhorn.js";

export const swavOptions = z.object({
  // D = projectorOutputDim, the embedding dimension
  ...projectorWidthOptions({ hiddenDim: 2048, outputDim: 128 }, { hiddenDim: 256, outputDim: 64 }),
  prototypes: z.number().int().min(2).default(32).describe("K, number of prototypes (paper: 3000)"),
  temperature: z.number().positive().default(0.1).describe("t of the softmax over prototype scores"),
  epsilon: z.number().positive().default(0.05).describe("entropic regularisation of Sinkhorn-Knopp"),
  sinkhornIterations: z.number().int().positive().default(3),
  localViews: z.number().int().min(0).default(2).describe("multi-crop: small crops per image"),
  localScale: z
    .tuple([z.number().positive(), z.number().positive()])
    .default([0.14, 0.4])
    .describe("area fraction of the local crops"),
  freezePrototypesSteps: z.number().int().min(0).default(0).describe("steps with frozen prototypes"),
});
export type SwAVOptions = z.output<typeof swavOptions>;

/** K learnable prototype vectors of dimension D (a bias-free linear layer, rows re-normalised). */
export class Prototypes extends Module {
  readonly weight: tf.Variable;
  constructor(
    readonly count: number,
    readonly dim: number,
    rng: Rng,
  ) {
    super();
    this.weight = this.addParameter(
      "weight",
      l2Normalize(tf.randomNormal([count, dim], 0, 1, "float32", rng.seed())),
      {
        decay: false,
      },
    );
  }
  forward(z: tf.Tensor): tf.Tensor {
    return tf.matMul(z, this.weight, false, true);
  }
  /** Rows back to unit norm (after each optimizer step, as SwAV's reference code does). */
  normalize(): void {
    tf.tidy(() => this.weight.assign(l2Normalize(this.weight)));
  }
  protected recreate(): Prototypes {
    return new Prototypes(this.count, this.dim, new Rng(0));
  }
}

export class SwAV extends MethodBase<SwAVOptions> {
  readonly views = 2;
  readonly backbone = this.addBackbone();
  readonly projector = this.addProjector({ layers: 2, batchNorm: true, ...projectorWidths(this.options) });
  readonly prototypes = this.module(
    "prototypes",
    new Prototypes(this.options.prototypes, this.options.projectorOutputDim, this.ctx.rng),
  );

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const o = this.options;
    const [g1, g2] = twoViews(batch, this.name);
    const locals = Array.from({ length: o.localViews }, () =>
      localCrops(batch.inputs, ctx.rng, { scale: o.localScale }),
    );
    const vars =
      ctx.step < o.freezePrototypesSteps
        ? this.trainableVariables().filter((v) => v !== this.prototypes.weight)
        : undefined;
    try {
      const result = ctx.minimize(() => {
        const views = [g1, g2, ...locals];
        const z = l2Normalize(this.embed(tf.concat(views, 0)));
        const scores = tf.split(this.prototypes.forward(z), views.length, 0) as tf.Tensor2D[];
        // codes of the global views: off the gradient path (computed from detached scores)
        const codes = [0, 1].map((i) =>
          sinkhornKnopp(stopGradient(scores[i] as tf.Tensor2D), o.epsilon, o.sinkhornIterations),
        );
        let total: tf.Scalar = tf.scalar(0);
        let terms = 0;
        for (const [i, q] of codes.entries()) {
          for (let j = 0; j < views.length; j++) {
            if (j === i) continue;
            total = tf.add(total, swappedPredictionLoss(q, scores[j] as tf.Tensor, o.temperature));
            terms++;
          }
        }
        const loss = tf.div(total, terms) as tf.Scalar;
        const used = tf.tidy(() => {
          const assigned = tf.argMax(codes[0] as tf.Tensor2D, 1);
          const counts = tf.unsortedSegmentSum(tf.onesLike(assigned), assigned as tf.Tensor1D, o.prototypes);
          return tf.sum(tf.cast(tf.greater(counts, 0), "float32")) as tf.Scalar;
        });
        return { loss, metrics: { prototypesUsed: used } };
      }, vars);
      this.prototypes.normalize();
      return result;
    } finally {
      tf.dispose(locals);
    }
  }
}

export const swavMethod = defineMethod({
  name: "swav",
  description:
    "SwAV: swapped prediction of Sinkhorn-Knopp cluster codes over learnable prototypes, multi-crop (Caron et al. 2020)",
  family: "contrastive",
  paper: {
    title: "Unsupervised Learning of Visual Features by Contrasting Cluster Assignments",
    url: "https://arxiv.org/abs/2006.09882",
  },
  inputs: ["image"],
  options: swavOptions,
  tinyOptions: { projectorHiddenDim: 16, projectorOutputDim: 8, prototypes: 8, localViews: 1 },
  defaultBackbone: defaultBackboneFor,
  create: (opts, ctx) => new SwAV(opts, ctx),
});
