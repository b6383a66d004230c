/**
 * What jigsaw and relative position share: both cut a 3x3 grid of tiles from each image (gap and
 * jitter, tiles.ts), encode tiles with the run's backbone built for the tile size, and hand
 * evaluators the representation their `representation` option picks (the trunk on whole images,
 * or the grid's tile features). A subclass adds its head and its training step.
 */
import { type FeatureModule, MethodBase } from "@selfsup/core";
import { imageInput, type TileRepresentation, tileGeometry, tileInput, tileMethodEncoder } from "./tiles.js";

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
