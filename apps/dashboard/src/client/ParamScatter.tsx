"use client";
/** The metric against one parameter, one dot per trial (SVG; log x for log_uniform, pruned hollow). */
import { cssVar } from "./colors";

export function ParamScatter({
  label,
  points,
  log,
  categories,
  highlight,
}: {
  label: string;
  points: Array<{ idx: number; x: unknown; y: number; pruned: boolean }>;
  log?: boolean;
  categories?: unknown[];
  highlight?: Set<number> | null;
}) {
  const W = 260;
  const H = 180;
  const P = 30;
  const cat = categories && categories.length > 0 ? categories.map((c) => JSON.stringify(c)) : null;
  const xv = (v: unknown): number => {
    if (cat) return cat.indexOf(JSON.stringify(v));
    const n = Number(v);
    return log ? Math.log10(n) : n;
  };
  const xs = points.map((p) => xv(p.x)).filter(Number.isFinite);
  const ys = points.map((p) => p.y);
  const x0 = cat ? -0.5 : Math.min(...xs);
  const x1 = cat ? cat.length - 0.5 : Math.max(...xs);
  const y0 = Math.min(...ys);
  const y1 = Math.max(...ys);
  const sx = (v: number) => P + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * P);
  const sy = (v: number) => H - P - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * P);
  const fg = cssVar("--fg", "#222");
  const accent = cssVar("--accent", "#2557d6");
  const fmt = (v: number) =>
    Math.abs(v) < 0.01 || Math.abs(v) >= 1e4 ? v.toExponential(1) : v.toPrecision(3);
  return (
    <figure className="param-scatter" data-param={label}>
      <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`metric against ${label}`}>
        <line x1={P} x2={W - P} y1={H - P} y2={H - P} stroke={fg} strokeWidth={0.5} />
        <line x1={P} x2={P} y1={P} y2={H - P} stroke={fg} strokeWidth={0.5} />
        {points.map((p) => {
          const x = xv(p.x);
          if (!Number.isFinite(x)) return null;
          const dim = highlight && !highlight.has(p.idx);
          return (
            <circle
              key={p.idx}
              className="scatter-dot"
              cx={sx(x)}
              cy={sy(p.y)}
              r={4}
              fill={p.pruned ? "none" : accent}
              stroke={accent}
              opacity={dim ? 0.2 : 0.9}
            >
              <title>{`trial ${p.idx}: ${fmt(p.y)}`}</title>
            </circle>
          );
        })}
        {cat
          ? cat.map((c, i) => (
              <text key={c} x={sx(i)} y={H - P + 14} fontSize={10} textAnchor="middle" fill={fg}>
                {c}
              </text>
            ))
          : xs.length > 0
            ? [x0, x1].map((v, i) => (
                <text
                  key={i === 0 ? "lo" : "hi"}
                  x={sx(v)}
                  y={H - P + 14}
                  fontSize={10}
                  textAnchor="middle"
                  fill={fg}
                >
                  {fmt(log ? 10 ** v : v)}
                </text>
              ))
            : null}
        {ys.length > 0 ? (
          <>
            <text x={2} y={sy(y1) + 4} fontSize={10} fill={fg}>
              {fmt(y1)}
            </text>
            <text x={2} y={sy(y0) + 4} fontSize={10} fill={fg}>
              {fmt(y0)}
            </text>
          </>
        ) : null}
      </svg>
      <figcaption>
        {label}
        {log ? " (log)" : ""}
      </figcaption>
    </figure>
  );
}
