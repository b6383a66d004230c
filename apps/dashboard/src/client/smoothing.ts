/**
 * Exponential moving average with debiasing (as TensorBoard's smoothing slider): with weight w,
 * s_t = w * s_{t-1} + (1 - w) * y_t, divided by (1 - w^t) so the start is not pulled toward 0.
 * Non-finite values pass through without disturbing the average.
 */
export function ema(ys: ArrayLike<number | null>, weight: number): Array<number | null> {
  const out: Array<number | null> = new Array(ys.length);
  if (weight <= 0) {
    for (let i = 0; i < ys.length; i++) out[i] = ys[i];
    return out;
  }
  let last = 0;
  let n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || !Number.isFinite(y)) {
      out[i] = y;
      continue;
    }
    last = last * weight + (1 - weight) * y;
    n++;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}
