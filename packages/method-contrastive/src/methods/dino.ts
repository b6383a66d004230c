/**
 * DINO: self-distillation with no labels. A student network matches the output distribution of
 * an EMA teacher over K prototypes, across multi-crop views.
 *
 * Caron, Touvron, Misra, Jégou, Mairal, Bojanowski, Joulin, "Emerging Properties in
 * Self-Supervised Vision Transformers", ICCV 2021. https://arxiv.org/abs/2104.14294
 *
 *   views:    G global crops + M local crops per image (core's MultiCrop; teacher sees globals only)
 *   student:  g_s(x) = W_n · l2n(mlp(f(x)))       backbone, 3-layer MLP to a bottleneck,
 *                                                  L2 normalisation, weight-normalised last layer
 *                                                  (K prototypes, columns of unit norm)
 *   teacher:  g_t = EMA of the student (backbone, MLP, last layer), momentum
 *             m_k = 1 - (1 - m_base) (cos(pi k / K) + 1) / 2   (0.996 -> 1 in the paper)
 *   loss:     dinoLoss (losses/dino.ts): H(softmax((t - c)/tau_t), softmax(s/tau_s)) averaged over
 *             every (global teacher view i, student view j != i) pair
 *   centring: c <- lambda c + (1 - lambda) mean over the batch of the teacher's global logits
 *   tau_t:    linear warm-up from 0.04 to 0.07 over the first `teacherTemperatureWarmup` of training
 *
 * Collapse signals (paper section 5.3, Fig. 7), reported as metrics each step:
 *   teacherEntropy = mean over samples of H(P_t), in nats: near log K when the teacher is uniform
 *                    (centring alone), near 0 when it is one-hot (sharpening alone)
 *   klToUniform    = KL(mean_n P_t || uniform) = log K - H(mean_n P_t): near log K when every
 *                    sample picks the same prototype (one-dimension collapse), 0 when balanced
 *
 * Paper defaults (ViT-S/16, ImageNet; reference code facebookresearch/dino) beside ours (28 px
 * digits, short runs):
 *   MLP hidden 2048 / bottleneck 256 / K 65536     ours 256 / 64 / 1024
 *   head: GELU, no BN (`use_bn_in_head` off),      ours ReLU (core's "mlp" head), same init; BN on
 *   Linear weights trunc-normal(0.02), biases 0     on every backbone (below; iBOT: off on a ViT)
 *   last layer frozen for the first epoch          same (`freezeLastLayerEpochs`)
 *   tau_s 0.1, tau_t 0.04 -> 0.07 over 30 epochs   same temperatures; warm-up over 30% of the steps
 *   center momentum 0.9, centre starts at 0        same momentum; centre starts at the first batch's
 *                                                  mean teacher logits (`centerInit`, below)
 *   teacher momentum 0.996 -> 1 (cosine)           same
 *   AdamW, lr warm-up 10 epochs, clip 3.0,         the run's training config (no warm-up or clipping
 *   wd 0.04 -> 0.4 (cosine)                        by default: --warmup, training.clipGradNorm)
 *   2 global (224 px, scale 0.4-1) + 8-10 local    2 global (full size, 0.4-1) + 6 local (12 px on
 *   (96 px, scale 0.05-0.4)                         28 px, 0.05-0.4)
 *   the teacher is evaluated                       the student backbone is the encoder
 *
 * Why ours differ (issue 29; `selfsup train -m dino -d mnist --limit 2000 -e 3`, convnet, wasm): with
 * core's default head init (biases U(+-1/sqrt(fan_in))), no BN and BYOL's short-run momentum rule
 * (0.9 for 93 steps) every image got nearly the same bottleneck (batch std 0.02 against 0.125 for
 * random directions), so the centred teacher was near uniform from the start (entropy 6.5 of
 * log K = 6.93 nats), the student learnt to output one distribution for every image, and the
 * teacher, 10 steps behind, followed: teacher entropy -> log K, bottleneck std -> 0.001, kNN 52.7%
 * (random init 56.2%). The convnet's pooled features share a large common part; BN in the head
 * removes it (std 0.10 at step 1, teacher entropy 4.3); the paper's momentum 0.996 keeps the teacher
 * from following the student into collapse. Either alone still collapsed; together the std stayed
 * at 0.07 and the teacher entropy at 5.9 over the 93 steps. Without a learning-rate warm-up (the
 * runner's default) the first steps, with the centre still 0, sent every image to one prototype
 * (teacher entropy 0.05 at step 4), hence the centre starting at the first batch's mean.
 */
import {
  type CropSet,
  cosineMomentum,
  defaultBackboneFor,
  defaultLocalSize,
  defineMethod,
  emaUpdate,
  embeddingStd,
  l2Normalize,
  MethodBase,
  Module,
  multiCropFields,
  multiCropSets,
  Rng,
  type StepContext,
  type StepResult,
  type TrainBatch,
  tf,
  truncatedNormalInit,
  ViT,
} from "@selfsup/core";
import { z } from "zod";
import { dinoLoss, dinoLossOptions, teacherDistribution } from "../losses/dino.js";

const lossFields = dinoLossOptions.shape;

export const dinoMethodOptions = z.object({
  projectorHiddenDim: z
    .number()
    .int()
    .positive()
    .default(256)
    .describe("hidden width of the head's MLP (DINO: 2048)"),
  bottleneckDim: z
    .number()
    .int()
    .positive()
    .default(64)
    .describe("the MLP's output, L2-normalised (DINO: 256)"),
  prototypes: z.number().int().min(2).default(1024).describe("K, outputs of the last layer (DINO: 65536)"),
  // On every backbone: without it DINO on the bench's ViT collapses (the teacher is near uniform
  // from step 1, entropy 6.61 -> 6.92 of log 1024 nats in 2 epochs); with it, 5 epochs of the
  // bench's protocol read kNN 80.7% and a 10-label probe of 73.0% (issue 29). iBOT's default is off.
  batchNorm: z
    .boolean()
    .default(true)
    .describe("BatchNorm in the head's MLP (DINO: `use_bn_in_head`, off by default)"),
  studentTemperature: lossFields.studentTemperature,
  teacherTemperature: z
    .number()
    .positive("must be > 0")
    .default(0.07)
    .describe("tau_t after the warm-up (DINO: 0.07)"),
  warmupTeacherTemperature: lossFields.teacherTemperature.describe("tau_t at the first step (DINO: 0.04)"),
  teacherTemperatureWarmup: z
    .number()
    .min(0)
    .max(1)
    .default(0.3)
    .describe("fraction of the steps over which tau_t rises linearly (DINO: 30 epochs of 100-300)"),
  centerMomentum: z
    .number()
    .min(0)
    .max(1)
    .default(0.9)
    .describe("lambda of the teacher centring (DINO: 0.9)"),
  centerInit: z
    .enum(["zeros", "batch"])
    .default("batch")
    .describe(
      "the centre before the first step: zeros (DINO), or the first batch's mean teacher logits (ours: without a learning-rate warm-up the uncentred first steps collapse every image onto one prototype)",
    ),
  freezeLastLayerEpochs: z
    .number()
    .int()
    .min(0)
    .default(1)
    .describe("epochs during which the prototypes (last layer) get no update (DINO: 1)"),
  baseMomentum: z
    .number()
    .min(0)
    .max(1)
    .default(0.996)
    .describe("teacher EMA momentum at step 0, raised to 1 by a cosine (DINO: 0.996)"),
  ...multiCropFields,
  globalCrops: z
    .number()
    .int()
    .min(
      2,
      "DINO needs at least 2 global crops: each global crop's teacher output is the target of the other views",
    )
    .default(2)
    .describe("global crops per image (DINO: 2)"),
});
export type DINOOptions = z.output<typeof dinoMethodOptions>;

/**
 * DINO's last layer: a bias-free linear map to K prototypes with weight normalisation, its norm
 * fixed to 1 (the reference code's `norm_last_layer=True`): W = V / ||V|| column by column.
 */
export class WeightNormPrototypes extends Module {
  readonly weight: tf.Variable;
  constructor(
    readonly inputDim: number,
    readonly count: number,
    rng: Rng,
  ) {
    super();
    this.weight = this.addParameter(
      "weight",
      tf.randomNormal([inputDim, count], 0, 1 / Math.sqrt(inputDim), "float32", rng.seed()),
      { decay: false },
    );
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.matMul(x, tf.div(this.weight, tf.norm(this.weight, "euclidean", 0, true))));
  }
  protected recreate(): WeightNormPrototypes {
    return new WeightNormPrototypes(this.inputDim, this.count, new Rng(0));
  }
}

/**
 * Re-initialises an MLP head as DINO's reference code does (`DINOHead._init_weights`): every
 * weight matrix ~ truncated normal (std 0.02), every bias 0 (BatchNorm scales stay 1).
 * Core's "torch" default draws the biases U(+-1/sqrt(fan_in)) like the weights, a constant offset
 * shared by every image; on the digits this init raised the bottleneck's batch std at step 1 from
 * 0.022 to 0.035 (alone it did not stop the collapse; see the module comment). Returns the head.
 */
export function initHeadLikeDINO<M extends Module>(head: M, rng: Rng): M {
  for (const p of head.namedParameters()) {
    const leaf = p.name.split(".").pop();
    if (p.variable.shape.length === 2 && leaf === "weight")
      p.variable.assign(truncatedNormalInit(p.variable.shape, 0.02, rng));
    else if (p.variable.shape.length === 1 && leaf === "bias") p.variable.assign(tf.zerosLike(p.variable));
  }
  return head;
}

/** tau_t at a step: linear from `from` to `to` over the first `warmup` fraction, then `to`. */
export function teacherTemperatureAt(
  step: number,
  totalSteps: number,
  from: number,
  to: number,
  warmup: number,
): number {
  const end = warmup * totalSteps;
  if (!(end > 0) || step >= end) return to;
  return from + ((to - from) * step) / end;
}

/** Mean entropy of the rows of P [N, K] and KL(mean row || uniform), in nats (see above). */
export function collapseMetrics(p: tf.Tensor): { teacherEntropy: tf.Scalar; klToUniform: tf.Scalar } {
  const k = p.shape[1] as number;
  const entropy = (q: tf.Tensor) => tf.neg(tf.sum(tf.mul(q, tf.log(tf.maximum(q, 1e-12))), -1));
  const teacherEntropy = tf.tidy(() => tf.mean(entropy(p)) as tf.Scalar);
  const klToUniform = tf.tidy(() => tf.sub(Math.log(k), entropy(tf.mean(p, 0))) as tf.Scalar);
  return { teacherEntropy, klToUniform };
}

/** x [n·B, ...] as n slices [B, ...] (slices, not tf.split: its gradient here misreads the sizes). */
export function chunks(x: tf.Tensor, n: number): tf.Tensor[] {
  const b = (x.shape[0] as number) / n;
  return Array.from({ length: n }, (_, i) => tf.slice(x, [i * b], [b]));
}

export class DINO<O extends DINOOptions = DINOOptions> extends MethodBase<O> {
  /** Views are cut from `batch.inputs` by core's multi-crop. */
  readonly views = 0;
  readonly backbone = this.addBackbone();
  // the reference's DINOHead._init_weights: Linear weights ~ trunc_normal(std 0.02), biases 0
  readonly projector = initHeadLikeDINO(
    this.addProjector(
      {
        layers: 3,
        hiddenDim: this.options.projectorHiddenDim,
        outputDim: this.options.bottleneckDim,
        batchNorm: this.options.batchNorm,
      },
      this.headInputDim(),
    ),
    this.ctx.rng,
  );
  readonly lastLayer = this.module(
    "lastLayer",
    new WeightNormPrototypes(this.options.bottleneckDim, this.options.prototypes, this.ctx.rng),
  );
  readonly teacherBackbone = this.momentumCopyOf("teacherBackbone", this.backbone);
  readonly teacherProjector = this.momentumCopyOf("teacherProjector", this.projector);
  readonly teacherLastLayer = this.momentumCopyOf("teacherLastLayer", this.lastLayer);
  readonly center = this.stateVariable("center", tf.variable(tf.zeros([1, this.options.prototypes]), false));
  readonly crops = this.addMultiCrop(this.cropSets());

  /** The head's input width: the encoder's pooled feature (iBOT's head reads the ViT's tokens). */
  protected headInputDim(): number {
    return this.encoder().outputDim;
  }

  /**
   * The global and local crop sets (core's multiCropSets of the options). On a ViT, without a
   * `localSize`, the local side is the multiple of the patch size nearest to core's default (3/7
   * of the side), since a ViT takes only sizes its patch divides: 12 px for 4 px patches on 28 px
   * digits, 14 px for the bench's 7 px patches (core's 12 px would be refused there). (Runs while
   * the fields are built: only `this.backbone` is set.)
   */
  protected cropSets(): CropSet[] {
    const sets = multiCropSets(this.options, this.ctx.input);
    const p = this.backbone instanceof ViT ? this.backbone.patchSize : 0;
    const input = this.ctx.input;
    if (this.options.localSize !== undefined || p === 0 || input.kind !== "image") return sets;
    const side = Math.min(input.height, input.width);
    const local = Math.min(Math.max(p, p * Math.round(defaultLocalSize(side) / p)), side - (side % p));
    return sets.map((s) => (s.name === "local" ? { ...s, size: [local, local] as const } : s));
  }

  momentumAt(step: number, totalSteps: number): number {
    return cosineMomentum(step, totalSteps, this.options.baseMomentum);
  }

  teacherTemperatureAt(step: number, totalSteps: number): number {
    const o = this.options;
    return teacherTemperatureAt(
      step,
      totalSteps,
      o.warmupTeacherTemperature,
      o.teacherTemperature,
      o.teacherTemperatureWarmup,
    );
  }

  /**
   * The variables this step trains: all but the prototypes during the first
   * `freezeLastLayerEpochs` epochs (the reference code's `cancel_gradients_last_layer`).
   */
  stepVariables(epoch: number): tf.Variable[] | undefined {
    if (epoch >= this.options.freezeLastLayerEpochs) return undefined;
    const frozen = new Set(this.lastLayer.trainableVariables());
    return this.trainableVariables().filter((v) => !frozen.has(v));
  }

  /** With `centerInit: "batch"`, c <- the mean over the rows of `teacher` [M, K] at step 0. */
  protected initCenter(center: tf.Variable, teacher: tf.Tensor, step: number): void {
    if (step === 0 && this.options.centerInit === "batch")
      tf.tidy(() => center.assign(tf.mean(teacher, 0, true)));
  }

  /** c <- lambda c + (1 - lambda) mean over the rows of `teacher` [M, K] (after the loss used c). */
  protected updateCenter(center: tf.Variable, teacher: tf.Tensor, momentum: number): void {
    tf.tidy(() =>
      center.assign(tf.add(tf.mul(center, momentum), tf.mul(tf.mean(teacher, 0, true), 1 - momentum))),
    );
  }

  /** The teacher follows the student: backbone, MLP and prototypes, at momentum `tau`. */
  protected updateTeacher(tau: number): void {
    emaUpdate(this.teacherBackbone, this.backbone, tau);
    emaUpdate(this.teacherProjector, this.projector, tau);
    emaUpdate(this.teacherLastLayer, this.lastLayer, tau);
  }

  /** Prototype logits of bottleneck inputs: W_n · l2n(mlp(x)) with the student's or the teacher's head. */
  protected head(x: tf.Tensor, teacher = false): tf.Tensor {
    return teacher
      ? this.teacherLastLayer.forward(l2Normalize(this.teacherProjector.forward(x)))
      : this.lastLayer.forward(l2Normalize(this.projector.forward(x)));
  }

  /** Student logits of a batch of views of one size. */
  student(x: tf.Tensor): tf.Tensor {
    return this.lastLayer.forward(l2Normalize(this.embed(x)));
  }

  /** Teacher logits; call outside the tape. */
  teacher(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() =>
      this.teacherLastLayer.forward(
        l2Normalize(this.teacherProjector.forward(this.teacherBackbone.forward(x))),
      ),
    );
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const { global = [], local = [] } = this.crops.views(batch.inputs, ctx.rng);
    const g = global.length;
    const tau = this.momentumAt(ctx.step, ctx.totalSteps);
    const tauT = this.teacherTemperatureAt(ctx.step, ctx.totalSteps);
    const o = this.options;
    // all globals through the teacher in one batch (as the reference code), then split per view
    const teacherAll = tf.tidy(() => this.teacher(tf.concat(global, 0)));
    const teacher = tf.split(teacherAll, g, 0);
    this.initCenter(this.center, teacherAll, ctx.step);
    let result: StepResult;
    try {
      result = ctx.minimize(() => {
        // one forward per resolution: the globals together, the locals together
        const globalEmbedding = this.embed(tf.concat(global, 0));
        const student = chunks(this.lastLayer.forward(l2Normalize(globalEmbedding)), g);
        if (local.length > 0) student.push(...chunks(this.student(tf.concat(local, 0)), local.length));
        const loss = dinoLoss(student, teacher, this.center, {
          studentTemperature: o.studentTemperature,
          teacherTemperature: tauT,
        });
        const metrics = collapseMetrics(teacherDistribution(teacherAll, this.center, tauT));
        return {
          loss,
          metrics: {
            ...metrics,
            // std of the student's bottleneck over the batch: near 0 when every image maps alike
            embeddingStd: embeddingStd(globalEmbedding),
            teacherTemperature: tf.scalar(tauT),
            momentum: tf.scalar(tau),
          },
        };
      }, this.stepVariables(ctx.epoch));
      this.updateCenter(this.center, teacherAll, o.centerMomentum);
    } finally {
      tf.dispose([teacherAll, ...teacher, ...global, ...local]);
    }
    this.updateTeacher(tau);
    return result;
  }
}

export const dinoMethod = defineMethod({
  name: "dino",
  description:
    "DINO: a student matches an EMA teacher's centred, sharpened softmax over prototypes across multi-crop views (Caron et al. 2021)",
  family: "contrastive",
  paper: {
    title: "Emerging Properties in Self-Supervised Vision Transformers",
    url: "https://arxiv.org/abs/2104.14294",
  },
  inputs: ["image"],
  options: dinoMethodOptions,
  tinyOptions: { projectorHiddenDim: 16, bottleneckDim: 8, prototypes: 16, localCrops: 2 },
  composable: false, // the teacher's EMA and the centre update after each step
  defaultBackbone: defaultBackboneFor,
  // The paper's method is made for ViTs; the bench scores it on the convnet and on vit-tiny.
  benchBackbones: ["vit-tiny"],
  create: (opts, ctx) => new DINO(opts, ctx),
});
