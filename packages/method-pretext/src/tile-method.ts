/**
 * What jigsaw and relative position share: both cut a 3x3 grid of tiles from each image (gap and
 * jitter, tiles.ts), encode tiles with the run's backbone built for the tile size, and hand
 * evaluators the representation their `representation` option picks (the trunk on whole images,
 * or the grid's tile features). A subclass adds its head and its training step.
 */
import {
  cutTiles,
  type FeatureModule,
  type LossOutput,
  MethodBase,
  softmaxCrossEntropy,
  tf,
} from "@selfsup/core";
import { accuracy } from "./losses.js";
import {
  imageInput,
  normalizeTiles,
  type TileRepresentation,
  tileGeometry,
  tileInput,
  tileMethodEncoder,
} from "./tiles.js";

/** Cells per side of both methods' grid (3 in both papers). */
export const TILE_GRID = 3;

export interface TileMethodOptions {
  gap: number;
  jitter: number;
  representation: TileRepresentation;
  normalizeTiles: boolean;
}

export abstract class TileMethod<O extends TileMethodOptions> extends MethodBase<O> {
  readonly views = 0;
  readonly image = imageInput(this.ctx.input, this.name);
  readonly geometry = tileGeometry(
    this.image.height,
    this.image.width,
    { grid: TILE_GRID, gap: this.options.gap, jitter: this.options.jitter },
    this.name,
  );
  /** The tile encoder: the run's backbone built for tile-sized inputs. */
  readonly backbone = this.module(
    "backbone",
    this.ctx.buildBackbone(undefined, undefined, tileInput(this.image, this.geometry.tile)),
  );

  /**
   * The step's loss of both methods: cuts each sample's tiles at `origins` (core's `cutTiles`),
   * lets `prepare` change them (relative position's colour dropping), normalises them (option
   * `normalizeTiles`), encodes them with the tile backbone, concatenates each sample's features
   * and classifies them with `head` against `labels`: cross-entropy and accuracy.
   */
  protected classifyTiles(
    x: tf.Tensor,
    origins: Array<Array<[number, number]>>,
    labels: number[],
    head: FeatureModule,
    prepare?: (tiles: tf.Tensor) => tf.Tensor,
  ): LossOutput {
    const [b, , , c] = x.shape as [number, number, number, number];
    const n = origins[0]?.length ?? 0;
    const t = this.geometry.tile;
    let tiles: tf.Tensor = tf.reshape(cutTiles(x, t, origins), [b * n, t, t, c]);
    if (prepare) tiles = prepare(tiles);
    if (this.options.normalizeTiles) tiles = normalizeTiles(tiles);
    const features = tf.reshape(this.backbone.forward(tiles), [b, n * this.backbone.outputDim]);
    const logits = head.forward(features);
    const y = tf.tensor1d(labels, "int32");
    return { loss: softmaxCrossEntropy(logits, y), metrics: { accuracy: accuracy(logits, y) } };
  }

  /**
   * What evaluators read: the trunk on whole images, or the tiles' features (`representation`).
   * Called by the subclass after its head (a forward of the backbone in eval mode; no weights).
   */
  protected useTileEncoder(): FeatureModule {
    const encoder = tileMethodEncoder(
      this.options,
      this.backbone,
      this.geometry,
      this.image.channels,
      this.name,
    );
    this.setEncoder(encoder);
    return encoder;
  }
}
