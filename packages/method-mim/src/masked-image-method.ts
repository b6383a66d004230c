/**
 * What MAE and SimMIM share, written once: both hide a random set of patches per sample
 * (`maeMask`: exactly round(r N) of N), minimise their `loss(x, mask)` on the batch, and redraw
 * images with the masked patches predicted (`reconstruct`) for the run's pictures. A subclass says
 * only how it predicts and scores (`predict`, `loss`), its patch size and patch count.
 */
import {
  type Dataset,
  fromPatches,
  type MethodArtifact,
  MethodBase,
  maeMask,
  type Rng,
  type StepContext,
  type StepResult,
  type TrainBatch,
  tf,
  toPatches,
} from "@selfsup/core";
import { denormalizePatches } from "./masked-loss.js";
import { writeReconstructions } from "./pictures.js";

export interface MaskedImageOptions {
  maskRatio: number;
  normPixLoss: boolean;
}

export abstract class MaskedImageMethod<O extends MaskedImageOptions> extends MethodBase<O> {
  /** Side of a (mask) patch in pixels. */
  abstract readonly patchSize: number;
  /** Patches per image. */
  abstract readonly numPatches: number;
  /** Per-patch pixel predictions [B, N, p*p*C] for images x under `mask` [B, N]. */
  abstract predict(x: tf.Tensor, mask: tf.Tensor): tf.Tensor;
  /** The loss of one batch under `mask` (what trainStep minimises). */
  abstract loss(x: tf.Tensor, mask: tf.Tensor): tf.Scalar;

  /** The images a step trains on (the batch's inputs; SimMIM's crop view when it crops). */
  protected trainImages(batch: TrainBatch): tf.Tensor {
    return batch.inputs;
  }

  /** A fresh mask per sample: [B, N] float, exactly round(ratio N) ones per row. */
  drawMask(batch: number, rng: Rng): tf.Tensor2D {
    const m = maeMask(rng, batch, this.numPatches, this.options.maskRatio);
    m.keep.dispose();
    m.restore.dispose();
    return m.mask;
  }

  trainStep(batch: TrainBatch, ctx: StepContext): StepResult {
    const x = this.trainImages(batch);
    const mask = this.drawMask(x.shape[0] as number, ctx.rng);
    try {
      return ctx.minimize(() => ({ loss: this.loss(x, mask) }));
    } finally {
      mask.dispose();
    }
  }

  /**
   * Reconstructed images [B, H, W, C]: visible patches as given, masked patches predicted (mapped
   * back from normalised pixels with each true patch's mean and std when normPixLoss is on, as the
   * MAE paper's figures do). Every module runs in eval mode; their modes are restored after.
   */
  reconstruct(x: tf.Tensor, mask: tf.Tensor): tf.Tensor4D {
    const [, h, w] = x.shape as [number, number, number, number];
    const p = this.patchSize;
    const modes = Object.values(this.modules()).map((m) => [m, m.training] as const);
    for (const [m] of modes) m.train(false);
    try {
      return tf.tidy(() => {
        const patches = toPatches(x, p);
        const predicted = this.predict(x, mask);
        const pred = this.options.normPixLoss ? denormalizePatches(predicted, patches) : predicted;
        const m = tf.expandDims(tf.cast(mask, "float32"), 2);
        const out = tf.add(tf.mul(patches, tf.sub(1, m)), tf.mul(pred, m));
        return fromPatches(tf.clipByValue(out, 0, 1), p, h, w);
      });
    } finally {
      for (const [m, mode] of modes) m.train(mode);
    }
  }

  /** Reconstructions of the first test images as a run artifact (pictures.ts). */
  writeArtifacts(ctx: { dataset: Dataset; dir: string }): Promise<MethodArtifact[]> {
    return writeReconstructions(this, ctx.dataset, ctx.dir);
  }
}
