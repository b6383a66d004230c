/**
 * I-JEPA's multi-block masks (Assran et al. 2023, "Self-Supervised Learning from Images with a
 * Joint-Embedding Predictive Architecture", https://arxiv.org/abs/2301.08243, sec. 3 and
 * appendix; the reference `MaskCollator` of facebookresearch/ijepa, src/masks/multiblock.py):
 * on a gh x gw patch grid, per image `targets` target blocks (scale 0.15-0.2 of the grid, aspect
 * 0.75-1.5) and one context block (scale 0.85-1, aspect 1) with the target blocks removed from it.
 *
 * As the reference: one target size and one context size are drawn per batch (each image places
 * its blocks at its own random positions); a block's side is capped below the grid's
 * (h < gh, w < gw); a context with at most `minKeep` patches left is redrawn, and after 20
 * redraws one target block fewer is removed from it (the reference's relaxation); then every
 * image's context is cut to the smallest context count of the batch, keeping its first patches
 * in row-major order, so the batch is one rectangular tensor. Target blocks are full rectangles
 * of the batch's size, so they need no cut.
 *
 * Where ours departs: scale and aspect are drawn independently (the reference draws one uniform
 * number for both), and a block's top-left corner ranges over every position where it fits (the
 * reference's `randint(0, gh - h)` never places a block on the last row or column).
 */
import type { Rng } from "../rng.js";

export interface MultiBlockOptions {
  /** Target blocks per image (I-JEPA: 4). */
  targets: number;
  /** Scale range of a target block, a fraction of the grid's patches (I-JEPA: [0.15, 0.2]). */
  targetScale: readonly [number, number];
  /** Aspect ratio (height / width) range of a target block (I-JEPA: [0.75, 1.5]). */
  targetAspect: readonly [number, number];
  /** Scale range of the context block, aspect 1 (I-JEPA: [0.85, 1]). */
  contextScale: readonly [number, number];
  /** A context must keep more than this many patches (I-JEPA: 10 on a 16x16 grid). */
  minKeep: number;
}

export interface MultiBlockMasks {
  /** Patches per image in the context (the same for every image after the cut). */
  contextCount: number;
  /** [B][contextCount] ascending patch indices (row-major) of each image's context. */
  context: number[][];
  /** Patches per target block (h·w of the batch's target size). */
  targetCount: number;
  /** [targets][B][targetCount] ascending patch indices of each target block of each image. */
  targets: number[][][];
}

/**
 * The block size of the reference's `_sample_block_size`: floor(gh·gw·scale) patches at aspect
 * `aspect`, h = round(sqrt(n·aspect)), w = round(sqrt(n / aspect)), each side capped below the grid.
 */
export function blockSize(gh: number, gw: number, scale: number, aspect: number): [number, number] {
  const n = Math.floor(gh * gw * scale);
  let h = Math.round(Math.sqrt(n * aspect));
  let w = Math.round(Math.sqrt(n / aspect));
  while (h >= gh) h--;
  while (w >= gw) w--;
  return [h, w];
}

/**
 * What stops multi-block masks on a gh x gw grid, as sentences naming the option (empty when they
 * fit): grids under 2 x 2, target blocks of no patch at the smallest scale, a context block that
 * can never keep more than `minKeep` patches, scales or aspects outside their ranges.
 */
export function multiBlockProblems(gh: number, gw: number, opts: MultiBlockOptions): string[] {
  const problems: string[] = [];
  const grid = `the ${gh}x${gw} patch grid`;
  const range = (name: string, [lo, hi]: readonly [number, number], max: number) => {
    if (!(lo > 0 && lo <= hi && hi <= max))
      problems.push(`${name} [${lo}, ${hi}] must satisfy 0 < min <= max <= ${max}`);
  };
  range("targetScale", opts.targetScale, 1);
  range("contextScale", opts.contextScale, 1);
  range("targetAspect", opts.targetAspect, Number.POSITIVE_INFINITY);
  if (!(Number.isInteger(opts.targets) && opts.targets >= 1))
    problems.push(`targets must be a positive integer, got ${opts.targets}`);
  if (problems.length > 0) return problems;
  if (gh < 2 || gw < 2) {
    problems.push(
      `${grid} is too small for blocks (a block side stays below the grid's, so each side needs 2 patches or more); use a smaller patchSize`,
    );
    return problems;
  }
  for (const aspect of opts.targetAspect) {
    const [h, w] = blockSize(gh, gw, opts.targetScale[0], aspect);
    if (h < 1 || w < 1) {
      problems.push(
        `targetScale ${opts.targetScale[0]} of ${grid} (${gh * gw} patches) at aspect ${aspect} gives a target block of ${h}x${w} patches: nothing to predict; raise targetScale to at least ${(Math.ceil(100 / (gh * gw)) / 100).toFixed(2)} or use a smaller patchSize`,
      );
      break;
    }
  }
  const [ch, cw] = blockSize(gh, gw, opts.contextScale[0], 1);
  if (ch * cw <= opts.minKeep)
    problems.push(
      `contextScale ${opts.contextScale[0]} of ${grid} gives a ${ch}x${cw} context block, which can never keep more than minKeep = ${opts.minKeep} patches; lower minKeep below ${ch * cw} or use a smaller patchSize`,
    );
  return problems;
}

/** Row-major patch indices of an h x w block at (top, left). */
function blockIndices(gw: number, top: number, left: number, h: number, w: number): number[] {
  const out: number[] = [];
  for (let i = top; i < top + h; i++) for (let j = left; j < left + w; j++) out.push(i * gw + j);
  return out;
}

/** Draws the multi-block masks of a batch (see above); throws on options `multiBlockProblems` refuses. */
export function multiBlockMasks(
  rng: Rng,
  batch: number,
  gh: number,
  gw: number,
  opts: MultiBlockOptions,
): MultiBlockMasks {
  const problems = multiBlockProblems(gh, gw, opts);
  if (problems.length > 0) throw new Error(`multi-block masks: ${problems.join("; ")}`);
  const [th, tw] = blockSize(
    gh,
    gw,
    rng.uniform(opts.targetScale[0], opts.targetScale[1]),
    rng.uniform(opts.targetAspect[0], opts.targetAspect[1]),
  );
  const [ch, cw] = blockSize(gh, gw, rng.uniform(opts.contextScale[0], opts.contextScale[1]), 1);
  const targets: number[][][] = Array.from({ length: opts.targets }, () => []);
  const contexts: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const taken: Uint8Array[] = [];
    for (let k = 0; k < opts.targets; k++) {
      const top = rng.int(gh - th + 1);
      const left = rng.int(gw - tw + 1);
      const block = blockIndices(gw, top, left, th, tw);
      (targets[k] as number[][]).push(block);
      const mark = new Uint8Array(gh * gw);
      for (const i of block) mark[i] = 1;
      taken.push(mark);
    }
    // the context block, minus the target blocks; the reference's relaxation when it stays small
    let context: number[] = [];
    let relax = 0;
    let tries = 0;
    for (;;) {
      const top = rng.int(gh - ch + 1);
      const left = rng.int(gw - cw + 1);
      const kept = taken.slice(0, Math.max(taken.length - relax, 0));
      context = blockIndices(gw, top, left, ch, cw).filter((i) => kept.every((m) => m[i] === 0));
      if (context.length > opts.minKeep) break;
      if (++tries === 20) {
        tries = 0;
        relax++; // multiBlockProblems guarantees the bare context block keeps more than minKeep
      }
    }
    contexts.push(context);
  }
  const contextCount = Math.min(...contexts.map((c) => c.length));
  return {
    contextCount,
    context: contexts.map((c) => c.slice(0, contextCount)),
    targetCount: th * tw,
    targets,
  };
}
