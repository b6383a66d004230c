"use client";
/**
 * Parallel coordinates of a sweep (SVG): one vertical axis per parameter and a last one for the
 * metric, one line per trial coloured by its metric (pruned trials dashed). Drag along an axis to
 * brush a range; lines outside every brush fade and `onBrush` reports the trials left (the trials
 * table shows only those). Click an axis without dragging to clear its brush. Log axes for
 * log_uniform parameters, categorical axes spread their values evenly.
 */
import { type PointerEvent, useMemo, useRef, useState } from "react";
import { cssVar } from "./colors";

export interface PcAxis {
  key: string;
  label: string;
  kind: string;
  /** Categorical values in order (values / choice). */
  values?: unknown[];
  log?: boolean;
}

export interface PcTrial {
  idx: number;
  status: string;
  value: number | null;
  params: Record<string, unknown>;
}

const H = 300;
const PAD_TOP = 24;
const PAD_BOTTOM = 34;

const axisValue = (t: PcTrial, a: PcAxis) => (a.key === "__metric" ? t.value : t.params[a.key]);

function metricColor(t: number): string {
  // low -> high: blue -> orange (readable on both themes)
  const a = [78, 121, 167];
  const b = [242, 142, 43];
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

export function ParallelCoords({
  axes,
  trials,
  metric,
  goal,
  onBrush,
}: {
  axes: PcAxis[];
  trials: PcTrial[];
  metric: string;
  goal: string;
  onBrush?: (idxs: number[] | null) => void;
}) {
  const all: PcAxis[] = useMemo(
    () => [...axes, { key: "__metric", label: metric, kind: "metric" }],
    [axes, metric],
  );
  const width = Math.max(420, 150 * all.length);
  const x = (i: number) => 50 + (i * (width - 100)) / Math.max(1, all.length - 1);
  const plotH = H - PAD_TOP - PAD_BOTTOM;

  // per axis: value -> 0..1 (0 bottom)
  const scales = useMemo(
    () =>
      all.map((a) => {
        if (a.values && a.values.length > 0) {
          const keys = a.values.map((v) => JSON.stringify(v));
          return (v: unknown) => {
            const i = keys.indexOf(JSON.stringify(v));
            return keys.length === 1 ? 0.5 : i < 0 ? Number.NaN : i / (keys.length - 1);
          };
        }
        const nums = trials
          .map((t) => axisValue(t, a))
          .filter((v): v is number => typeof v === "number" && Number.isFinite(v) && (!a.log || v > 0))
          .map((v) => (a.log ? Math.log10(v) : v));
        const lo = Math.min(...nums);
        const hi = Math.max(...nums);
        return (v: unknown) => {
          if (typeof v !== "number" || !Number.isFinite(v)) return Number.NaN;
          const z = a.log ? Math.log10(v) : v;
          return hi > lo ? (z - lo) / (hi - lo) : 0.5;
        };
      }),
    [all, trials],
  );
  const ticks = (a: PcAxis, i: number): Array<{ y: number; label: string }> => {
    if (a.values && a.values.length > 0)
      return a.values.map((v) => ({ y: scales[i]?.(v) ?? 0, label: String(v) }));
    const nums = trials
      .map((t) => axisValue(t, a))
      .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    if (nums.length === 0) return [];
    const lo = Math.min(...nums);
    const hi = Math.max(...nums);
    const fmt = (v: number) =>
      Math.abs(v) < 0.01 || Math.abs(v) >= 1e4 ? v.toExponential(1) : v.toPrecision(3);
    return [
      { y: 0, label: fmt(lo) },
      { y: 1, label: fmt(hi) },
    ];
  };

  const [brushes, setBrushes] = useState<Record<string, [number, number]>>({});
  const drag = useRef<{ key: string; from: number } | null>(null);
  const svg = useRef<SVGSVGElement>(null);
  const yToUnit = (clientY: number) => {
    const r = svg.current?.getBoundingClientRect();
    if (!r) return 0;
    const y = ((clientY - r.top) / r.height) * H;
    const u = Math.min(1, Math.max(0, 1 - (y - PAD_TOP) / plotH));
    // within 3% of an end counts as the end, so a brush from the top includes the top value
    return u > 0.97 ? 1 : u < 0.03 ? 0 : u;
  };
  const inBrush = (t: PcTrial) =>
    all.every((a, i) => {
      const b = brushes[a.key];
      if (!b) return true;
      const u = scales[i]?.(axisValue(t, a)) ?? Number.NaN;
      return Number.isFinite(u) && u >= b[0] - 1e-9 && u <= b[1] + 1e-9;
    });
  const apply = (next: Record<string, [number, number]>) => {
    setBrushes(next);
    if (!onBrush) return;
    if (Object.keys(next).length === 0) onBrush(null);
    else
      onBrush(
        trials
          .filter((t) =>
            all.every((a, i) => {
              const b = next[a.key];
              if (!b) return true;
              const u = scales[i]?.(axisValue(t, a)) ?? Number.NaN;
              return Number.isFinite(u) && u >= b[0] - 1e-9 && u <= b[1] + 1e-9;
            }),
          )
          .map((t) => t.idx),
      );
  };

  const metricScale = scales[all.length - 1] as (v: unknown) => number;
  const fg = cssVar("--fg", "#222");
  const faded = cssVar("--border", "#ccc");
  return (
    <div className="pc-wrap" style={{ overflowX: "auto" }}>
      <svg
        ref={svg}
        className="parallel-coords"
        role="img"
        aria-label={`Parallel coordinates of ${trials.length} trials`}
        width={width}
        height={H}
        viewBox={`0 0 ${width} ${H}`}
        data-trials={trials.length}
        data-brushed={Object.keys(brushes).length}
      >
        {trials.map((t) => {
          const pts = all.map((a, i) => {
            const u = scales[i]?.(axisValue(t, a)) ?? Number.NaN;
            return Number.isFinite(u) ? `${x(i)},${PAD_TOP + (1 - u) * plotH}` : null;
          });
          if (pts.some((p) => p === null)) return null;
          const on = inBrush(t);
          const m = metricScale(t.value);
          const color = Number.isFinite(m) ? metricColor(goal === "minimize" ? 1 - m : m) : faded;
          return (
            <polyline
              key={t.idx}
              className="pc-line"
              data-trial={t.idx}
              data-active={on ? "1" : "0"}
              points={pts.join(" ")}
              fill="none"
              stroke={on ? color : faded}
              strokeOpacity={on ? 0.9 : 0.35}
              strokeWidth={on ? 1.8 : 1}
              strokeDasharray={t.status === "pruned" ? "4 3" : undefined}
            >
              <title>{`trial ${t.idx} (${t.status}): ${metric} ${t.value?.toFixed(4) ?? "—"}`}</title>
            </polyline>
          );
        })}
        {all.map((a, i) => {
          const b = brushes[a.key];
          return (
            <g key={a.key} className="pc-axis" data-axis={a.key}>
              <line x1={x(i)} x2={x(i)} y1={PAD_TOP} y2={PAD_TOP + plotH} stroke={fg} strokeWidth={1} />
              {ticks(a, i).map((tk) => (
                <text
                  key={`${tk.label}-${tk.y}`}
                  x={x(i) + 6}
                  y={PAD_TOP + (1 - tk.y) * plotH + 4}
                  fontSize={10}
                  fill={fg}
                >
                  {tk.label}
                </text>
              ))}
              <text x={x(i)} y={H - 12} fontSize={11} textAnchor="middle" fill={fg}>
                {a.label}
                {a.log ? " (log)" : ""}
              </text>
              {b ? (
                <rect
                  className="pc-brush"
                  x={x(i) - 8}
                  width={16}
                  y={PAD_TOP + (1 - b[1]) * plotH}
                  height={Math.max(2, (b[1] - b[0]) * plotH)}
                  fill="rgba(120,120,120,0.25)"
                  stroke={fg}
                  strokeWidth={0.5}
                />
              ) : null}
              <rect
                className="pc-hit"
                data-axis={a.key}
                x={x(i) - 14}
                width={28}
                y={PAD_TOP - 6}
                height={plotH + 12}
                fill="transparent"
                style={{ cursor: "ns-resize", touchAction: "none" }}
                onPointerDown={(e: PointerEvent<SVGRectElement>) => {
                  (e.target as Element).setPointerCapture?.(e.pointerId);
                  drag.current = { key: a.key, from: yToUnit(e.clientY) };
                }}
                onPointerMove={(e: PointerEvent<SVGRectElement>) => {
                  const d = drag.current;
                  if (!d || d.key !== a.key) return;
                  const to = yToUnit(e.clientY);
                  if (Math.abs(to - d.from) < 0.01) return;
                  setBrushes((prev) => ({ ...prev, [a.key]: [Math.min(d.from, to), Math.max(d.from, to)] }));
                }}
                onPointerUp={(e: PointerEvent<SVGRectElement>) => {
                  const d = drag.current;
                  drag.current = null;
                  if (!d) return;
                  const to = yToUnit(e.clientY);
                  const next = { ...brushes };
                  if (Math.abs(to - d.from) < 0.01) delete next[a.key];
                  else next[a.key] = [Math.min(d.from, to), Math.max(d.from, to)];
                  apply(next);
                }}
              />
            </g>
          );
        })}
      </svg>
      {Object.keys(brushes).length > 0 ? (
        <button type="button" onClick={() => apply({})}>
          Clear brushes
        </button>
      ) : null}
    </div>
  );
}
