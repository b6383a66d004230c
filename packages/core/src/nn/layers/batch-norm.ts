import { BATCH_NORM_TRAIN, BATCH_NORM_TRAIN_GRAD, hasFusedKernel } from "../../backend/fused-kernels.js";
import { tf } from "../../tf.js";
import { onesInit, zerosInit } from "../init.js";
import { Module } from "../module.js";

let frozenRunningStats = 0;

/**
 * Runs `fn` with every BatchNorm's running-statistics update switched off (outputs and gradients
 * are unchanged: training mode still normalises with the batch's statistics). Activation
 * recomputation (../recompute.ts) runs a segment's forward a second time inside the backward
 * pass; without this, that pass would move the running statistics twice per step.
 */
export function withFrozenRunningStats<T>(fn: () => T): T {
  frozenRunningStats++;
  try {
    return fn();
  } finally {
    frozenRunningStats--;
  }
}

export interface BatchNormOptions {
  /** Added to the variance before the square root (default 1e-5, as PyTorch). */
  eps?: number;
  /**
   * Weight of the current batch in the running statistics, PyTorch's convention:
   * running = (1 - momentum)·running + momentum·batch (default 0.1).
   */
  momentum?: number;
  /** Learn a scale `weight` and shift `bias` (default true). */
  affine?: boolean;
}

/**
 * Mean over the rows of x [N, C] -> [C]. On wasm as a [N, 1] average pool of x viewed as the
 * image [1, N, 1, C]: XNNPACK's pooling reads x once with channels innermost (~2 ms for
 * 100k x 32), where `tf.mean(x, 0)` and `Xᵀ·1` transpose x first (15-25 ms) and `1ᵀ·X` repacks
 * X as a weight matrix (~35 ms); relative error against a float64 sum ~1e-5 at N = 262k.
 * Elsewhere `tf.mean(x, 0)`, a native reduction.
 */
export function columnMean(x: tf.Tensor2D): tf.Tensor1D {
  const [n, c] = x.shape;
  if (tf.getBackend() !== "wasm") return tf.mean(x, 0);
  return tf.tidy(() =>
    tf.reshape(tf.avgPool(tf.reshape(x, [1, n, 1, c]) as tf.Tensor4D, [n, 1], 1, "valid"), [c]),
  );
}

/**
 * Batch normalisation (Ioffe & Szegedy, 2015, https://arxiv.org/abs/1502.03167) over the last
 * (feature/channel) axis; every other axis is a "batch" axis: [B,D] (1-d), [B,H,W,C] (2-d, NHWC).
 *
 * - Training mode normalises with the batch's own mean and (biased) variance, through which
 *   gradients flow (the loss sees the coupling between samples, as in PyTorch), and moves the
 *   running statistics towards the batch's; running_var uses the unbiased variance n/(n-1)·var,
 *   like PyTorch. That update is a side effect, not part of the graph: it is computed inside a
 *   `tf.customGrad` op's forward (where tfjs records nothing on the tape and tidies everything)
 *   and `assign`ed to the buffers, so inside `tf.variableGrads` it adds no gradient path and
 *   leaves no tensor behind.
 * - Eval mode normalises with the running statistics and changes nothing.
 *
 * A batch of one sample is refused in training mode: its "batch statistics" are the sample itself,
 * so the output would be the bias alone (1-d) and the running statistics would be corrupted. Call
 * `eval()` for single-sample inference.
 *
 * Parameters `weight` (scale γ, init 1) and `bias` (shift β, init 0) are not weight-decayed;
 * buffers `running_mean` (init 0) and `running_var` (init 1) are saved in the state dict.
 */
export class BatchNorm extends Module {
  readonly weight: tf.Variable | undefined;
  readonly bias: tf.Variable | undefined;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  protected readonly options: Required<BatchNormOptions>;

  constructor(
    readonly numFeatures: number,
    opts: BatchNormOptions = {},
  ) {
    super();
    this.options = { eps: opts.eps ?? 1e-5, momentum: opts.momentum ?? 0.1, affine: opts.affine ?? true };
    if (this.options.affine) {
      this.weight = this.addParameter("weight", onesInit([numFeatures]), { decay: false });
      this.bias = this.addParameter("bias", zerosInit([numFeatures]), { decay: false });
    }
    this.runningMean = this.addBuffer("running_mean", zerosInit([numFeatures]));
    this.runningVar = this.addBuffer("running_var", onesInit([numFeatures]));
  }

  /** Checks the input's shape; the subclasses BatchNorm1d/2d narrow the accepted rank. */
  protected checkInput(x: tf.Tensor): void {
    if (x.rank < 2 || x.shape[x.rank - 1] !== this.numFeatures) {
      throw new Error(
        `${this.constructor.name} expects inputs [B, ..., ${this.numFeatures}] (features last), got shape [${x.shape}]`,
      );
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    this.checkInput(x);
    if (!this.training) {
      return tf.batchNorm(x, this.runningMean, this.runningVar, this.bias, this.weight, this.options.eps);
    }
    const batch = x.shape[0];
    if (batch < 2) {
      throw new Error(
        `${this.constructor.name}(${this.numFeatures}) in training mode got a batch of ${batch} sample: batch ` +
          "statistics of a single sample are meaningless (the output collapses to the bias). Use a batch of at " +
          "least 2, or call eval() on the module for single-sample inference.",
      );
    }
    const c = this.numFeatures;
    const count = x.size / c;
    const fused = hasFusedKernel(BATCH_NORM_TRAIN);
    // The fused kernel takes NHWC as it is: no reshape to [N·H·W, C] and back, whose 9 Reshape
    // ops per layer (forward and backward) a native backend runs as ops of their own (issue 30).
    if (fused && x.rank === 4)
      return this.fusedTrainingForward(x, this.weight ?? tf.ones([c]), this.bias ?? tf.zeros([c]));
    return tf.tidy(() => {
      const flat = tf.reshape(x, [count, c]);
      const out = fused
        ? this.fusedTrainingForward(flat, this.weight ?? tf.ones([c]), this.bias ?? tf.zeros([c]))
        : this.weight && this.bias
          ? this.trainingForward(flat, this.weight, this.bias)
          : this.trainingForward(flat);
      return tf.reshape(out, x.shape);
    });
  }

  /**
   * Training-mode normalisation of x [N, C] (and γ, β when affine) with a hand-written gradient.
   * Why: autodiff through the statistics runs [N,1]x[1,C] outer-product matmuls and broadcasts
   * that cost ~5x the forward pass; the closed form below needs only column sums and a few
   * element-wise ops. With c = x-μ, s = 1/σ and x̂ = c·s:
   *
   *   dβ = Σ_n dy;   dγ = Σ_n dy·x̂ = s·Σ_n dy·c;   dx = γs · (dy - dβ/N - c·s·dγ/N)
   *
   * Column means come from `columnMean` (below); per-channel factors are folded into [C] vectors
   * before touching [N,C] data, so the forward pass makes 4 full-size passes and the backward 5.
   *
   * The running statistics are updated inside the custom op's forward, where tfjs records
   * nothing on the gradient tape, so the update is no part of any gradient and keeps no tensor.
   */
  private readonly trainingForward = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [x, gamma, beta] = args.slice(0, -1) as [tf.Tensor2D, tf.Tensor1D?, tf.Tensor1D?];
    const { eps, momentum } = this.options;
    const n = x.shape[0];
    const mean = columnMean(x);
    const centered = tf.sub(x, mean) as tf.Tensor2D;
    const variance = columnMean(tf.square(centered) as tf.Tensor2D); // biased, as used for normalising
    const invStd = tf.rsqrt(tf.add(variance, eps));
    const value =
      gamma && beta ? tf.add(tf.mul(centered, tf.mul(invStd, gamma)), beta) : tf.mul(centered, invStd);
    save(gamma ? [centered, invStd, gamma] : [centered, invStd]);
    if (frozenRunningStats === 0) {
      this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - momentum), tf.mul(mean, momentum)));
      this.runningVar.assign(
        tf.add(tf.mul(this.runningVar, 1 - momentum), tf.mul(variance, (momentum * n) / (n - 1))),
      );
    }
    // tfjs calls a custom gradient outside any tidy and frees what it leaves only when the whole
    // backward pass ends: tidy here, or the [N, C] temporaries of every BatchNorm stay alive that long.
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] =>
      tf.tidy(() => {
        const [sc, sinv, sgamma] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D?];
        const colSum = (t: tf.Tensor) => tf.mul(columnMean(t as tf.Tensor2D), n);
        const dbeta = colSum(dy);
        const sumDyC = colSum(tf.mul(dy, sc)); // Σ dy·c
        const dgamma = tf.mul(sumDyC, sinv);
        // dx = γs·dy - γs·dβ/N - c·γs³·Σ(dy·c)/N
        const gs = sgamma ? tf.mul(sinv, sgamma) : sinv;
        const cFactor = tf.mul(tf.mul(gs, tf.square(sinv)), tf.div(sumDyC, -n));
        const shift = tf.mul(gs, tf.div(dbeta, -n));
        const dx = tf.add(tf.add(tf.mul(dy, gs), tf.mul(sc, cFactor)), shift);
        return sgamma ? [dx, dgamma, dbeta] : [dx];
      });
    return { value, gradFunc };
  });

  /**
   * The same on a backend with selfsup's fused BatchNorm kernels (TensorFlow's
   * FusedBatchNormV3 and its gradient on "tensorflow", see backend/native-kernels.ts): one kernel
   * each way. Without affine parameters γ = 1 and β = 0 are passed and their gradients dropped.
   */
  private readonly fusedTrainingForward = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [x, gamma, beta] = args.slice(0, -1) as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    const { eps, momentum } = this.options;
    const n = x.size / this.numFeatures; // samples per channel: N, or N·H·W for NHWC
    const [value, mean, variance, ...reserve] = tf
      .engine()
      .runKernel(BATCH_NORM_TRAIN, { x, scale: gamma, offset: beta }, { epsilon: eps }) as tf.Tensor[];
    save([x, gamma, ...reserve]);
    if (frozenRunningStats === 0) {
      this.runningMean.assign(
        tf.add(tf.mul(this.runningMean, 1 - momentum), tf.mul(mean as tf.Tensor, momentum)),
      );
      this.runningVar.assign(
        tf.add(
          tf.mul(this.runningVar, 1 - momentum),
          tf.mul(variance as tf.Tensor, (momentum * n) / (n - 1)),
        ),
      );
    }
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const [sx, sgamma, ...sreserve] = saved as [tf.Tensor, tf.Tensor, ...tf.Tensor[]];
      const inputs: Record<string, tf.Tensor> = { dy, x: sx, scale: sgamma };
      sreserve.forEach((t, i) => {
        inputs[`reserve${i}`] = t;
      });
      return tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, inputs, { epsilon: eps }) as tf.Tensor[];
    };
    return { value: value as tf.Tensor, gradFunc };
  });

  protected recreate(): BatchNorm {
    return new BatchNorm(this.numFeatures, this.options);
  }
}

/** BatchNorm over features of vectors [B, D] (PyTorch's BatchNorm1d without the [B,C,L] form). */
export class BatchNorm1d extends BatchNorm {
  protected override checkInput(x: tf.Tensor): void {
    if (x.rank !== 2) throw new Error(`BatchNorm1d expects [B, ${this.numFeatures}], got shape [${x.shape}]`);
    super.checkInput(x);
  }

  protected override recreate(): BatchNorm1d {
    return new BatchNorm1d(this.numFeatures, this.options);
  }
}

/** BatchNorm over channels of NHWC images [B, H, W, C]: statistics over batch and space. */
export class BatchNorm2d extends BatchNorm {
  protected override checkInput(x: tf.Tensor): void {
    if (x.rank !== 4)
      throw new Error(`BatchNorm2d expects NHWC [B, H, W, ${this.numFeatures}], got shape [${x.shape}]`);
    super.checkInput(x);
  }

  protected override recreate(): BatchNorm2d {
    return new BatchNorm2d(this.numFeatures, this.options);
  }
}
