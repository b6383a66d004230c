"use client";
/**
 * A 2-D scatter (e.g. the PCA of a run's embeddings) on a canvas, one colour per label, with a
 * legend that also works as a filter (click a label to show only it).
 */
import { useEffect, useMemo, useRef, useState } from "react";
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
  const labels = useMemo(() => {
    const set = [...new Set(points.map((p) => p.label ?? "—"))];
    const numeric = set.every((l) => /^-?\d+(\.\d+)?$/.test(l));
    return set.sort((a, b) => (numeric ? Number(a) - Number(b) : a.localeCompare(b)));
  }, [points]);

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
    const sx = (x: number) => pad + ((x - x0) / (x1 - x0 || 1)) * (width - 2 * pad);
    const sy = (y: number) => height - pad - ((y - y0) / (y1 - y0 || 1)) * (height - 2 * pad);
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
  }, [points, labels, width, height, only]);

  return (
    <div ref={box}>
      <canvas
        ref={canvas}
        style={{ width: "100%", height }}
        role="img"
        aria-label={`${title}: ${points.length} points in ${labels.length} classes`}
        data-testid="scatter"
        data-points={points.length}
      />
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
