/**
 * Activation recomputation ("gradient checkpointing", Chen et al. 2016, "Training Deep Nets with
 * Sublinear Memory Cost", https://arxiv.org/abs/1604.06174) for a segment of a network.
 *
 * Why: tfjs' backprop keeps every tensor a kernel saved for its gradient, and every intermediate
 * gradient, until the whole backward pass ends (tape.ts accumulates them in one map inside one
 * tidy). For ResNet-18 on 32x32 images that is ~40 MB per view, so SimCLR at batch 128 (256
 * views) needs ~11 GiB, far over the wasm backend's 4 GiB heap. A checkpointed segment keeps only
 * its input; its activations are freed as soon as its forward ends, and rebuilt during the
 * backward pass, one segment at a time, under a tape of their own that is freed when the
 * segment's gradients are out. Peak memory becomes the segment boundaries plus one segment's
 * activations and gradients, for one extra forward pass of compute (~1/3 of a step).
 *
 * How: the segment runs as one `tf.customGrad` op whose inputs are the segment input AND the
 * segment's trainable variables, so the outer tape sees the variables as op inputs and the
 * custom gradient returns their gradients next to dx. Its forward runs untaped (tfjs records
 * nothing inside a custom op and tidies everything but the output); its gradient recomputes the
 * forward from the saved input under `tf.grads` with the incoming dy.
 *
 * BatchNorm: the recomputation sees exactly the same input and weights (the optimizer updates
 * after the whole backward pass), so batch statistics, and therefore outputs and gradients, are
 * those of the plain pass: full-batch BN is preserved. The running statistics are updated by the
 * first forward only; the recomputation runs under `withFrozenRunningStats`.
 */
import { tf } from "../tf.js";
import { withFrozenRunningStats } from "./layers/batch-norm.js";
import type { Module } from "./module.js";

/**
 * "always": recompute every training forward; "never": plain backprop; "auto" (a backbone
 * option's default): plain until `setAutoRecompute` turns it on (the wasm pre-flight does when
 * a plain step would not fit the heap).
 */
export type RecomputeMode = "auto" | "always" | "never";

/** A module that can run with activation recomputation (ResNet's blocks, ...). */
export interface Recomputable {
  readonly recomputeMode: RecomputeMode;
  /** Whether training forwards are recomputed now. */
  readonly recomputeActive: boolean;
  /** Turns recomputation on/off for mode "auto"; "always" and "never" ignore it. */
  setAutoRecompute(on: boolean): void;
}

export function isRecomputable(m: unknown): m is Recomputable {
  return (
    typeof m === "object" &&
    m !== null &&
    typeof (m as Partial<Recomputable>).setAutoRecompute === "function" &&
    typeof (m as Partial<Recomputable>).recomputeMode === "string"
  );
}

/** Every Recomputable in the module trees (each module once). */
export function recomputableModules(roots: Iterable<Module>): Recomputable[] {
  const out = new Set<Recomputable>();
  const visit = (m: Module) => {
    if (isRecomputable(m)) out.add(m);
    for (const [, child] of m.namedChildren()) visit(child);
  };
  for (const r of roots) visit(r);
  return [...out];
}

/**
 * Turns recomputation on or off in every module of mode "auto" under `roots`; returns how many
 * modules it switched (0: nothing here can recompute).
 */
export function setAutoRecompute(roots: Iterable<Module>, on: boolean): number {
  const auto = recomputableModules(roots).filter((m) => m.recomputeMode === "auto");
  for (const m of auto) m.setAutoRecompute(on);
  return auto.length;
}

/**
 * Runs `forward(x)` as one recomputed segment (see the module comment). `variables` must be every
 * trainable variable `forward` reads: a variable it reads but is not given gets no gradient.
 * Outside gradient recording this is `forward(x)` with no extra cost.
 */
export function recomputedSegment(
  x: tf.Tensor,
  variables: readonly tf.Variable[],
  forward: (x: tf.Tensor) => tf.Tensor,
): tf.Tensor {
  const engine = tf.engine();
  // Not under tf.grads/variableGrads (inference, an EMA target's forward): nothing to save.
  if (engine.state.gradientDepth === 0 || engine.state.kernelDepth > 0) return forward(x);
  const op = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const input = args[0] as tf.Tensor;
    const value = forward(input);
    save([input]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] =>
      recomputeGradients(saved[0] as tf.Tensor, variables, forward, dy);
    return { value, gradFunc };
  });
  return op(x, ...variables);
}

/** [dx, ...d(variables)] of `forward` at `x` for the upstream gradient `dy`, by recomputation. */
function recomputeGradients(
  x: tf.Tensor,
  variables: readonly tf.Variable[],
  forward: (x: tf.Tensor) => tf.Tensor,
  dy: tf.Tensor,
): tf.Tensor[] {
  const engine = tf.engine();
  // tfjs keeps one tape per engine: a nested tf.grads at gradient depth 0 (we are inside the outer
  // backward pass, whose forward tape has ended) starts a new tape over the outer one and sets it to
  // null when done. The outer pass still walks its own filtered copy of the tape, but disposes the
  // saved tensors of `state.activeTape` at its end: put the outer tape back.
  const outerTape = engine.state.activeTape;
  try {
    return tf.tidy(() =>
      withFrozenRunningStats(() => tf.grads((input: tf.Tensor) => forward(input))([x, ...variables], dy)),
    );
  } finally {
    engine.state.activeTape = outerTape;
  }
}
