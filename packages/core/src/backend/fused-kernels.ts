/**
 * Kernels that selfsup defines itself (not tfjs kernels), for training steps that tfjs would
 * otherwise run as chains of small ops. A backend may register a native implementation under
 * these names (native-kernels.ts does for "tensorflow"); callers check `hasFusedKernel` and fall
 * back to the equivalent composition of tfjs ops elsewhere, so every backend computes the same
 * thing and the fused forms are tested against the composite ones on the cpu backend.
 *
 * - BATCH_NORM_TRAIN: inputs {x [N,C] or NHWC [N,H,W,C], scale [C], offset [C]}, attrs
 *   {epsilon}; outputs [y (x's shape), mean, variance (biased, as used for normalising),
 *   ...reserve]: what the gradient kernel needs besides x and scale (backend-specific, e.g.
 *   TensorFlow's reserve spaces). Statistics are over every axis but the last.
 * - BATCH_NORM_TRAIN_GRAD: inputs {dy, x, scale, reserve0..k} (dy and x of one shape, 2-D or
 *   4-D), attrs {epsilon}; outputs [dx, dscale, doffset].
 * - RELU_GRAD: inputs {dy, x}; output dy where x > 0, else 0.
 * - ADAM_UPDATE: inputs {param, grad, m, v}, attrs AdamUpdateAttrs; outputs [param', m', v'] of
 *   one Adam/AdamW step (formula in train/optimizers/adam.ts; wasm: wasm-kernels/adam-update.ts).
 */
import { getBackend, getKernel } from "@tensorflow/tfjs-core";

export const BATCH_NORM_TRAIN = "SelfsupBatchNormTrain";
export const BATCH_NORM_TRAIN_GRAD = "SelfsupBatchNormTrainGrad";
export const RELU_GRAD = "SelfsupReluGrad";
export const ADAM_UPDATE = "SelfsupAdamUpdate";

/** ADAM_UPDATE's attributes: the step's constants, bias corrections folded in by the caller. */
export interface AdamUpdateAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Coupled (Adam) weight decay added to the gradient: g = grad + l2·p (0 for AdamW). */
  l2: number;
  /** Decoupled (AdamW) decay factor applied to p: 1 - lr·wd (1 for Adam). */
  decay: number;
  /** Bias corrections 1 - β1^t and 1 - β2^t. */
  c1: number;
  c2: number;
}

/** Whether the active backend has a native implementation of one of the kernels above. */
export function hasFusedKernel(name: string): boolean {
  return getKernel(name, getBackend()) != null;
}
