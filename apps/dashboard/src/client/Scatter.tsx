"use client";
/**
 * A 2-D scatter (e.g. the PCA of a run's embeddings) on a canvas, one colour per label, with a
 * legend that also works as a filter (click a label to show only it); hovering a point shows its
 * class and coordinates.
 */
import { type MouseEvent, useEffect, useMemo, useRef, useState } from "react";
import type { ScatterPoint } from "../lib/api-types";
import { colorAt, cssVar } from "./colors";

export type { ScatterPoint };

export function Scatter({
  points,
  height = 320,
  title,
}: {
  points: ScatterPoint[];
  height?: number;
  title: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const box = useRef<HTMLDivElement>(null);
  const [only, setOnly] = useState<string | null>(null);
  const [width, setWidth] = useState(480);
  const [hover, setHover] = useState<{ left: number; top: number; point: ScatterPoint } | null>(null);
  const labels = useMemo(() => {
    const set = [...new Set(points.map((p) => p.label ?? "—"))];
    const numeric = set.every((l) => /^-?\d+(\.\d+)?$/.test(l));
    return set.sort((a, b) => (numeric ? Number(a) - Number(b) : a.localeCompare(b)));
  }, [points]);

  const scale = useMemo(() => {
    let x0 = Number.POSITIVE_INFINITY;
    let x1 = Number.NEGATIVE_INFINITY;
    let y0 = Number.POSITIVE_INFINITY;
    let y1 = Number.NEGATIVE_INFINITY;
    for (const p of points) {
      x0 = Math.min(x0, p.x);
      x1 = Math.max(x1, p.x);
      y0 = Math.min(y0, p.y);
      y1 = Math.max(y1, p.y);
    }
    const pad = 12;
    return {
      sx: (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (width - 2 * pad),
      sy: (y: number) => height - pad - ((y - y0) / (y1 - y0 || 1)) * (height - 2 * pad),
    };
  }, [points, width, height]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(Math.max(200, el.clientWidth)));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(width * dpr);
    c.height = Math.round(height * dpr);
    const ctx = c.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    if (!points.length) return;
    const { sx, sy } = scale;
    ctx.strokeStyle = cssVar("--chart-grid", "rgba(0,0,0,0.1)");
    ctx.strokeRect(0.5, 0.5, width - 1, height - 1);
    const r = points.length > 5000 ? 1.5 : 2.5;
    labels.forEach((label, li) => {
      if (only !== null && label !== only) return;
      ctx.fillStyle = colorAt(li);
      ctx.globalAlpha = 0.75;
      ctx.beginPath();
      for (const p of points) {
        if ((p.label ?? "—") !== label) continue;
        const px = sx(p.x);
        const py = sy(p.y);
        ctx.moveTo(px + r, py);
        ctx.arc(px, py, r, 0, Math.PI * 2);
      }
      ctx.fill();
    });
    ctx.globalAlpha = 1;
  }, [points, labels, width, height, only, scale]);

  /** The nearest shown point within 8 px of the mouse, for the hover label. */
  const onMove = (e: MouseEvent<HTMLCanvasElement>) => {
    const rect = e.currentTarget.getBoundingClientRect();
    const mx = e.clientX - rect.left;
    const my = e.clientY - rect.top;
    let best: ScatterPoint | null = null;
    let bestD = 64;
    for (const p of points) {
      if (only !== null && (p.label ?? "—") !== only) continue;
      const d = (scale.sx(p.x) - mx) ** 2 + (scale.sy(p.y) - my) ** 2;
      if (d < bestD) {
        bestD = d;
        best = p;
      }
    }
    setHover(best ? { left: scale.sx(best.x), top: scale.sy(best.y), point: best } : null);
  };

  return (
    <div ref={box} style={{ position: "relative" }}>
      <canvas
        ref={canvas}
        style={{ width: "100%", height }}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
        role="img"
        aria-label={`${title}: ${points.length} points in ${labels.length} classes`}
        data-testid="scatter"
        data-points={points.length}
        data-classes={labels.length}
      />
      {hover && (
        <div
          role="tooltip"
          data-testid="scatter-tooltip"
          className="scatter-tooltip"
          style={{
            position: "absolute",
            left: hover.left + 10,
            top: hover.top + 10,
            pointerEvents: "none",
            background: "var(--bg, #fff)",
            border: "1px solid var(--border, #ccc)",
            borderRadius: 4,
            padding: "2px 6px",
            fontSize: 12,
            whiteSpace: "nowrap",
          }}
        >
          class {hover.point.label ?? "—"} · ({hover.point.x.toPrecision(3)}, {hover.point.y.toPrecision(3)})
        </div>
      )}
      <fieldset className="legend" style={{ border: "none", padding: 0 }}>
        <legend className="sr-only">Classes (click one to show only it)</legend>
        {labels.map((l, i) => (
          <button
            type="button"
            key={l}
            className="link"
            aria-pressed={only === l}
            onClick={() => setOnly(only === l ? null : l)}
            style={{ color: "inherit", opacity: only === null || only === l ? 1 : 0.4 }}
          >
            <span className="swatch" style={{ background: colorAt(i) }} />
            {l}
          </button>
        ))}
      </fieldset>
    </div>
  );
}
