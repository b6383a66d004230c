import { tf } from "../../tf.js";

/**
 * Adaptive pooling of an NHWC map to a fixed `grid` x `grid` of cells (PyTorch's
 * AdaptiveAvgPool2d / AdaptiveMaxPool2d): cell (i, j) pools rows floor(i·H/g) .. ceil((i+1)·H/g)
 * and the same over columns, so cells tile the map (overlapping by a row where g does not divide
 * the side). When g divides both sides this is one pooling kernel with window and stride H/g.
 * Returns [B, g, g, C].
 */
export function adaptivePool2d(x: tf.Tensor4D, grid: number, mode: "avg" | "max"): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (!Number.isInteger(grid) || grid < 1 || grid > h || grid > w)
    throw new Error(
      `adaptive pooling to a ${grid}x${grid} grid needs a map of at least that size, got ${h}x${w}`,
    );
  return tf.tidy(() => {
    if (h % grid === 0 && w % grid === 0) {
      const window: [number, number] = [h / grid, w / grid];
      return mode === "max" ? tf.maxPool(x, window, window, "valid") : tf.avgPool(x, window, window, "valid");
    }
    const span = (i: number, n: number): [number, number] => {
      const start = Math.floor((i * n) / grid);
      return [start, Math.ceil(((i + 1) * n) / grid) - start];
    };
    const rows: tf.Tensor4D[] = [];
    for (let i = 0; i < grid; i++) {
      const [r0, rn] = span(i, h);
      const cells: tf.Tensor4D[] = [];
      for (let j = 0; j < grid; j++) {
        const [c0, cn] = span(j, w);
        const cell = tf.slice(x, [0, r0, c0, 0], [-1, rn, cn, -1]);
        cells.push(
          (mode === "max" ? tf.max(cell, [1, 2], true) : tf.mean(cell, [1, 2], true)) as tf.Tensor4D,
        );
      }
      rows.push(tf.concat(cells, 2));
    }
    return tf.concat(rows, 1);
  });
}
