/**
 * Jigsaw puzzles, the pretext task of Noroozi & Favaro 2016 ("Unsupervised Learning of Visual
 * Representations by Solving Jigsaw Puzzles", https://arxiv.org/abs/1603.09246): cut the image into
 * a 3x3 grid of tiles, shuffle them by one permutation from a fixed set, and train a network to say
 * which permutation it was. The set is chosen to have large Hamming distances between its members
 * (the paper's "maximal" set) so that the classes are distinguishable; each tile is also cut with a
 * small random jitter, so that networks cannot match tiles by their continuing edges.
 */
import { z } from "zod";
import { defineAugmentation } from "../plugin/define-plugin.js";
import { Rng } from "../rng.js";
import { tf } from "../tf.js";
import { cutTiles } from "./tiles.js";
import { imageShape } from "./util.js";

/** Seed of the default permutation set, so every run and every package shares the same classes. */
export const JIGSAW_PERMUTATION_SEED = 1603_09246;

/**
 * `count` permutations of `tiles` elements chosen greedily for maximal minimum Hamming distance
 * (Noroozi & Favaro's algorithm 1 uses the same greedy step over all 9! permutations; we search a
 * seeded pool of 10,000 random ones, which gives sets just as spread out in a fraction of the time).
 * The first permutation is the identity.
 */
export function jigsawPermutations(count = 100, tiles = 9, seed = JIGSAW_PERMUTATION_SEED): number[][] {
  const rng = new Rng(seed);
  const identity = Array.from({ length: tiles }, (_, i) => i);
  const seen = new Set<string>([identity.join(",")]);
  const pool: number[][] = [];
  for (let i = 0; i < 10_000 * 4 && pool.length < 10_000; i++) {
    const perm = rng.shuffle([...identity]);
    const key = perm.join(",");
    if (!seen.has(key)) {
      seen.add(key);
      pool.push(perm);
    }
  }
  if (count - 1 > pool.length)
    throw new Error(`jigsawPermutations: cannot pick ${count} distinct permutations of ${tiles} tiles`);
  const chosen = [identity];
  const minDist = pool.map((p) => hamming(p, identity));
  while (chosen.length < count) {
    let best = 0;
    for (let i = 1; i < pool.length; i++) if (minDist[i]! > minDist[best]!) best = i;
    const next = pool[best]!;
    chosen.push(next);
    minDist[best] = -1;
    for (let i = 0; i < pool.length; i++)
      if (minDist[i]! >= 0) minDist[i] = Math.min(minDist[i]!, hamming(pool[i]!, next));
  }
  return chosen;
}

function hamming(a: number[], b: number[]): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

export interface JigsawOptions {
  /** Tiles per side (3 in the paper). */
  grid?: number;
  /** The permutation set; permutation[i] = the source tile placed at position i. */
  permutations: number[][];
  /** Pixels cut from each tile side at a random offset (the paper's gap); 0 = exact tiles. */
  jitter?: number;
}

export interface JigsawResult {
  /** [B, grid*grid, t, t, C], tile i of sample b = source tile permutations[index[b]][i]. */
  tiles: tf.Tensor5D;
  /** Index into the permutation set per sample (the pretext label). */
  permutation: number[];
}

/**
 * Cuts every image of x [B,H,W,C] into grid x grid tiles and shuffles them with a permutation drawn
 * per sample from the set (tiles cut by `cutTiles`: exact pixels, no resampling).
 */
export function jigsawShuffle(x: tf.Tensor, rng: Rng, opts: JigsawOptions): JigsawResult {
  const [b, h, w, _c] = imageShape(x, "jigsawShuffle");
  const g = opts.grid ?? 3;
  const jitter = opts.jitter ?? 0;
  const cell = Math.floor(Math.min(h, w) / g);
  const t = cell - jitter;
  if (t <= 0)
    throw new Error(
      `jigsawShuffle: a ${h}x${w} image is too small for a ${g}x${g} grid with jitter ${jitter}`,
    );
  for (const [i, perm] of opts.permutations.entries()) {
    if (perm.length !== g * g)
      throw new Error(`jigsawShuffle: permutation ${i} has ${perm.length} entries, expected ${g * g}`);
  }
  const permutation: number[] = [];
  const origins = Array.from({ length: b }, () => {
    const pi = rng.int(opts.permutations.length);
    permutation.push(pi);
    return (opts.permutations[pi] as number[]).map((src): [number, number] => [
      Math.floor(src / g) * cell + (jitter > 0 ? rng.int(jitter + 1) : 0),
      (src % g) * cell + (jitter > 0 ? rng.int(jitter + 1) : 0),
    ]);
  });
  const tiles = cutTiles(x, t, origins);
  return { tiles, permutation };
}

/** Puts shuffled tiles [B,G*G,t,t,C] back in place given each sample's permutation: the inverse. */
export function jigsawAssemble(
  tiles: tf.Tensor,
  permutations: number[][],
  permutation: number[],
): tf.Tensor4D {
  if (tiles.rank !== 5)
    throw new Error(`jigsawAssemble: expected tiles [B,N,t,t,C], got [${tiles.shape.join(",")}]`);
  const [b, n, t, , c] = tiles.shape as [number, number, number, number, number];
  const g = Math.round(Math.sqrt(n));
  return tf.tidy(() => {
    const idx: number[] = [];
    for (let s = 0; s < b; s++) {
      const perm = permutations[permutation[s]!]!;
      const inverse = new Array<number>(n);
      perm.forEach((src, pos) => {
        inverse[src] = pos;
      });
      for (let src = 0; src < n; src++) idx.push(s * n + inverse[src]!);
    }
    const ordered = tf.gather(tf.reshape(tiles, [b * n, t, t, c]), tf.tensor1d(idx, "int32"));
    const six = tf.reshape(ordered, [b, g, g, t, t, c]);
    return tf.reshape(tf.transpose(six, [0, 1, 3, 2, 4, 5]), [b, g * t, g * t, c]) as tf.Tensor4D;
  });
}

export const jigsawAugmentOptions = z.object({
  grid: z.number().int().min(2).max(6).default(3),
  /** Size of the permutation set (the number of pretext classes; 100 in most follow-ups). */
  permutations: z.number().int().min(1).max(1000).default(100),
  jitter: z.number().int().min(0).default(0),
});

/**
 * As an augmentation: the shuffled puzzle reassembled into an image (tiles resized back to the
 * input size), which is what a preview shows. `jigsawShuffle` also gives each sample's
 * permutation (the pretext label); method-pretext's jigsaw and relative-position methods cut their
 * own grid (gaps between cells, per-tile jitter, see its tiles.ts) with the same `cutTiles`.
 */
export const jigsaw = defineAugmentation({
  name: "jigsaw",
  description: "Shuffle a grid of tiles by a permutation from a max-Hamming set (Noroozi & Favaro 2016)",
  options: jigsawAugmentOptions,
  create(opts) {
    const perms = jigsawPermutations(opts.permutations, opts.grid * opts.grid);
    return {
      name: "jigsaw",
      apply(x, rng) {
        const [b, h, w, c] = imageShape(x, "jigsaw");
        const { tiles } = jigsawShuffle(x, rng, {
          grid: opts.grid,
          permutations: perms,
          jitter: opts.jitter,
        });
        return tf.tidy(() => {
          const t = tiles.shape[2];
          const g = opts.grid;
          const six = tf.reshape(tiles, [b, g, g, t, t, c]);
          const img = tf.reshape(tf.transpose(six, [0, 1, 3, 2, 4, 5]), [b, g * t, g * t, c]) as tf.Tensor4D;
          tiles.dispose();
          return g * t === h && g * t === w ? img : tf.image.resizeBilinear(img, [h, w]);
        });
      },
    };
  },
});
