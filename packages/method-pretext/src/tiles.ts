/**
 * Tiles cut from a grid over the image, as jigsaw (Noroozi & Favaro 2016) and relative patch
 * position (Doersch et al. 2015) need them, and the encoder both methods hand to evaluators.
 *
 * Geometry: the largest square grid of `grid` x `grid` cells of side `cell = floor(min(H, W) /
 * grid)` is centred on the image. A tile has side `tile = cell - gap - jitter` and sits in its cell
 * at offset `ceil(gap / 2) + r`, r drawn in [0, jitter] per tile. So every tile stays inside its
 * cell (and the image), and two neighbouring tiles are at least `gap` pixels apart whatever the
 * jitter: low-level cues (continuing edges, chromatic aberration along a border) cannot tell the
 * task's answer. Tiles are cut by core's `cutTiles` (one exact gather); `TileMethod`
 * (tile-method.ts) is what jigsaw and relative position share.
 */
import { cutTiles, type FeatureModule, type InputSpec, Module, type Rng, tf } from "@selfsup/core";
import { z } from "zod";

export interface TileGridOptions {
  /** Cells per side (3 in both papers). */
  grid: number;
  /** Minimum pixels between neighbouring tiles. */
  gap: number;
  /** Maximum random shift of a tile inside its cell, in pixels. */
  jitter: number;
}

export interface TileGeometry extends TileGridOptions {
  height: number;
  width: number;
  /** Side of a grid cell. */
  cell: number;
  /** Side of a tile. */
  tile: number;
  /** Top-left corner of the grid in the image (the grid is centred). */
  top: number;
  left: number;
}

export function tileGeometry(
  height: number,
  width: number,
  opts: TileGridOptions,
  where: string,
): TileGeometry {
  const { grid, gap, jitter } = opts;
  const cell = Math.floor(Math.min(height, width) / grid);
  const tile = cell - gap - jitter;
  if (tile < 2) {
    throw new Error(
      `${where}: a ${height}x${width} image gives ${grid}x${grid} cells of ${cell} px, too small for a gap of ${gap} and jitter of ${jitter} (tiles would be ${tile} px; need >= 2): lower gap/jitter or use larger images`,
    );
  }
  return {
    ...opts,
    height,
    width,
    cell,
    tile,
    top: Math.floor((height - grid * cell) / 2),
    left: Math.floor((width - grid * cell) / 2),
  };
}

/**
 * Top-left corner [y, x] of the tile in grid position `pos` (row-major). With `rng` the jitter is
 * drawn; without, the tile sits in the middle of its jitter range (what evaluation uses).
 */
export function tileOrigin(g: TileGeometry, pos: number, rng?: Rng): [number, number] {
  const row = Math.floor(pos / g.grid);
  const col = pos % g.grid;
  const base = Math.ceil(g.gap / 2);
  const dy = rng ? rng.int(g.jitter + 1) : Math.floor(g.jitter / 2);
  const dx = rng ? rng.int(g.jitter + 1) : Math.floor(g.jitter / 2);
  return [g.top + row * g.cell + base + dy, g.left + col * g.cell + base + dx];
}

/**
 * Per-tile normalisation (zero mean, unit variance over each tile's pixels and channels), as
 * Noroozi & Favaro do so that tiles cannot be matched by their mean brightness or contrast.
 * Works on [..., t, t, C]. The small floor keeps empty (constant) tiles at zero.
 */
export function normalizeTiles(tiles: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const r = tiles.rank;
    const { mean, variance } = tf.moments(tiles, [r - 3, r - 2, r - 1], true);
    return tf.div(tf.sub(tiles, mean), tf.sqrt(tf.add(variance, 1e-3)));
  });
}

/**
 * The representation of a tile-based method: the image's `grid` x `grid` tiles (centred, no
 * jitter, normalised as in training) through the shared tile encoder, their features concatenated
 * in grid order (the input of the jigsaw network's classifier). outputDim = grid² · tile features.
 */
export class TileGridEncoder extends Module implements FeatureModule {
  readonly outputDim: number;

  readonly tileEncoder: FeatureModule;

  /** `tileEncoder` becomes a child (its weights are this module's); the method owns and disposes it. */
  constructor(
    tileEncoder: FeatureModule,
    readonly geometry: TileGeometry,
    readonly normalize: boolean,
  ) {
    super();
    this.tileEncoder = this.addModule("tile_encoder", tileEncoder);
    this.outputDim = geometry.grid * geometry.grid * tileEncoder.outputDim;
  }

  /** Un-jittered tiles of x [B,H,W,C], normalised: [B·grid², t, t, C]. */
  tiles(x: tf.Tensor): tf.Tensor {
    const b = x.shape[0] as number;
    const n = this.geometry.grid * this.geometry.grid;
    const list = Array.from({ length: n }, (_, pos) => tileOrigin(this.geometry, pos));
    return tf.tidy(() => {
      const tiles = cutTiles(
        x,
        this.geometry.tile,
        Array.from({ length: b }, () => list),
      );
      const t = this.geometry.tile;
      const flat = tf.reshape(tiles, [b * n, t, t, x.shape[3] as number]);
      return this.normalize ? normalizeTiles(flat) : flat;
    });
  }

  forward(x: tf.Tensor): tf.Tensor {
    const b = x.shape[0] as number;
    return tf.tidy(() => tf.reshape(this.tileEncoder.forward(this.tiles(x)), [b, this.outputDim]));
  }

  protected recreate(): TileGridEncoder {
    return new TileGridEncoder(this.tileEncoder.clone(), this.geometry, this.normalize);
  }
}

/**
 * The representation both papers transfer: the shared tile encoder (a conv trunk) run on the
 * whole image, not on its tiles. Noroozi & Favaro (2016, §4) and Doersch et al. (2015, §5) copy
 * the conv layers trained on tiles into a network for full images; a fully convolutional trunk
 * needs no copy, only a larger input (core's convnet pools its larger last map to the configured
 * grid). The image is normalised as the tiles were (zero mean, unit variance per image).
 * outputDim is measured on whole images (`wholeImageDim`), not the tile encoder's own.
 */
export class TileTrunkEncoder extends Module implements FeatureModule {
  readonly tileEncoder: FeatureModule;

  /** `tileEncoder` becomes a child (its weights are this module's); the method owns and disposes it. */
  constructor(
    tileEncoder: FeatureModule,
    readonly outputDim: number,
    readonly normalize: boolean,
  ) {
    super();
    this.tileEncoder = this.addModule("tile_encoder", tileEncoder);
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.tileEncoder.forward(this.normalize ? normalizeTiles(x) : x));
  }

  protected recreate(): TileTrunkEncoder {
    return new TileTrunkEncoder(this.tileEncoder.clone(), this.outputDim, this.normalize);
  }
}

/**
 * Feature width of `encoder` on whole [height, width, channels] images, or undefined when it
 * cannot run on them (a ViT built for tiles: its position embeddings fix the patch count; an MLP:
 * its first layer fixes the pixel count). One forward of a zero image in eval mode, so BatchNorm's
 * running statistics are not touched; the encoder's mode is restored.
 */
export function wholeImageDim(
  encoder: FeatureModule,
  image: { height: number; width: number; channels: number },
): number | undefined {
  const wasTraining = encoder.training;
  encoder.eval();
  try {
    return tf.tidy(() => {
      const y = encoder.forward(tf.zeros([1, image.height, image.width, image.channels]));
      return y.rank === 2 && y.shape[0] === 1 ? (y.shape[1] as number) : undefined;
    });
  } catch {
    return undefined;
  } finally {
    encoder.train(wasTraining);
  }
}

/** The `representation` option of jigsaw and relative position: what evaluators read. */
export const tileRepresentationOption = z
  .enum(["auto", "trunk", "tiles"])
  .default("auto")
  .describe(
    'what evaluators read: "trunk" (the tile encoder on whole images, as the paper transfers it), "tiles" (the 9 tile features concatenated), "auto" (trunk when the backbone runs on whole images)',
  );
export type TileRepresentation = z.output<typeof tileRepresentationOption>;

/**
 * The encoder evaluators read for a tile method: "trunk" (`TileTrunkEncoder`, the papers'
 * transfer), "tiles" (`TileGridEncoder`, the nine tile features concatenated), or "auto": the
 * trunk when the tile encoder runs on whole images, else the tiles.
 */
export function tileMethodEncoder(
  options: { representation: TileRepresentation; normalizeTiles: boolean },
  tileEncoder: FeatureModule,
  geometry: TileGeometry,
  channels: number,
  method: string,
): FeatureModule {
  const { representation, normalizeTiles: normalize } = options;
  if (representation === "tiles") return new TileGridEncoder(tileEncoder, geometry, normalize);
  const dim = wholeImageDim(tileEncoder, { height: geometry.height, width: geometry.width, channels });
  if (dim !== undefined) return new TileTrunkEncoder(tileEncoder, dim, normalize);
  if (representation === "trunk")
    throw new Error(
      `${method}: option representation "trunk" needs a backbone that runs on whole ${geometry.height}x${geometry.width} images once built for ${geometry.tile}x${geometry.tile} tiles (a convnet or resnet does; a ViT or MLP does not): use representation "tiles" or "auto"`,
    );
  return new TileGridEncoder(tileEncoder, geometry, normalize);
}

/** The run's input as an image spec, or a clear error naming the method. */
export function imageInput(input: InputSpec, method: string): Extract<InputSpec, { kind: "image" }> {
  if (input.kind !== "image") throw new Error(`${method}: needs image inputs, got ${input.kind}`);
  return input;
}

/** The input spec of a `side` x `side` tile of the run's images. */
export function tileInput(input: Extract<InputSpec, { kind: "image" }>, side: number): InputSpec {
  return { kind: "image", height: side, width: side, channels: input.channels };
}
