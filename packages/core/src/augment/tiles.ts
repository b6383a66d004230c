/**
 * The one tile cutter: square tiles copied out of a batch of images by one exact `gather` of their
 * pixels (no resampling; wasm's nearest-neighbour `cropAndResize` is off by a pixel in tfjs 4.22).
 * The jigsaw augmentation and the tile methods (jigsaw, relative position) all cut with it.
 */
import { tf } from "../tf.js";

/**
 * Cuts tiles of side `tile` out of x [B, H, W, C]: `origins[b]` lists sample b's tile corners
 * [top, left]. Returns [B, N, tile, tile, C], N = origins[b].length (the same for every sample).
 */
export function cutTiles(
  x: tf.Tensor,
  tile: number,
  origins: ReadonlyArray<ReadonlyArray<readonly [number, number]>>,
): tf.Tensor5D {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  if (x.rank !== 4)
    throw new Error(`cutTiles: expected images [B, H, W, C], got shape [${x.shape.join(", ")}]`);
  if (origins.length !== b) throw new Error(`cutTiles: ${origins.length} tile lists for a batch of ${b}`);
  const n = origins[0]?.length ?? 0;
  const t = tile;
  // Flat pixel indices into x viewed as [B*H*W, C].
  const idx = new Int32Array(b * n * t * t);
  let o = 0;
  for (let s = 0; s < b; s++) {
    const list = origins[s] as ReadonlyArray<readonly [number, number]>;
    if (list.length !== n)
      throw new Error(`cutTiles: sample ${s} has ${list.length} tiles, sample 0 has ${n}`);
    for (const [top, left] of list) {
      if (top < 0 || left < 0 || top + t > h || left + t > w)
        throw new Error(`cutTiles: a ${t}px tile at (${top}, ${left}) leaves the ${h}x${w} image`);
      for (let i = 0; i < t; i++) for (let j = 0; j < t; j++) idx[o++] = (s * h + top + i) * w + left + j;
    }
  }
  return tf.tidy(
    () =>
      tf.reshape(tf.gather(tf.reshape(x, [b * h * w, c]), tf.tensor1d(idx, "int32")), [
        b,
        n,
        t,
        t,
        c,
      ]) as tf.Tensor5D,
  );
}
