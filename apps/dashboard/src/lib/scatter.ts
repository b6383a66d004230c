/**
 * Reads scatter points (e.g. a PCA of embeddings) out of a JSON artifact. Accepted shapes:
 * `[{x, y, label?}]`, `[[x, y, label?]]`, `{points: <either>, labels?: [...]}` (what the runner
 * writes: `labels[i]` is the class of `points[i]`) and columns `{x: [...], y: [...], labels?: [...]}`
 * (also `xs`/`ys`). Anything else gives null.
 */
export interface ScatterPoint {
  x: number;
  y: number;
  label: string | null;
}

const MAX_POINTS = 20_000;

function label(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function fromRows(rows: unknown[], labels: unknown[] = []): ScatterPoint[] | null {
  const out: ScatterPoint[] = [];
  for (const [i, r] of rows.slice(0, MAX_POINTS).entries()) {
    if (Array.isArray(r) && typeof r[0] === "number" && typeof r[1] === "number") {
      out.push({ x: r[0], y: r[1], label: label(r[2] ?? labels[i]) });
    } else if (
      r &&
      typeof r === "object" &&
      typeof (r as { x?: unknown }).x === "number" &&
      typeof (r as { y?: unknown }).y === "number"
    ) {
      const o = r as { x: number; y: number; label?: unknown; y_true?: unknown; class?: unknown };
      out.push({ x: o.x, y: o.y, label: label(o.label ?? o.class ?? o.y_true ?? labels[i]) });
    } else {
      return null;
    }
  }
  return out.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
}

export function parseScatter(data: unknown): ScatterPoint[] | null {
  if (Array.isArray(data)) return data.length ? fromRows(data) : null;
  if (!data || typeof data !== "object") return null;
  const o = data as Record<string, unknown>;
  if (Array.isArray(o.points)) return fromRows(o.points, Array.isArray(o.labels) ? o.labels : []);
  const xs = (o.x ?? o.xs) as unknown;
  const ys = (o.y ?? o.ys) as unknown;
  if (Array.isArray(xs) && Array.isArray(ys)) {
    const labels = (Array.isArray(o.labels) ? o.labels : Array.isArray(o.label) ? o.label : []) as unknown[];
    const n = Math.min(xs.length, ys.length, MAX_POINTS);
    const out: ScatterPoint[] = [];
    for (let i = 0; i < n; i++) {
      const x = Number(xs[i]);
      const y = Number(ys[i]);
      if (Number.isFinite(x) && Number.isFinite(y)) out.push({ x, y, label: label(labels[i]) });
    }
    return out;
  }
  return null;
}
