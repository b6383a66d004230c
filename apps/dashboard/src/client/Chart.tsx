"use client";
/**
 * A line chart on uPlot (canvas; tens of thousands of points redraw in milliseconds). For each
 * series it draws, back to front: the min-max band of downsampled buckets (so a spike inside a
 * bucket stays visible), the raw curve (faint when smoothing is on) and the smoothed curve.
 * Several series with different x values (compare page) are aligned with uPlot.join. A series of
 * one point (an evaluation run once) is drawn as a marker, on an x range widened around it.
 */
import { useEffect, useMemo, useRef, useState } from "react";
import uPlot, { type AlignedData, type Options } from "uplot";
import { cssVar, withAlpha } from "./colors";
import { fmtNumber } from "./format";
import { ema } from "./smoothing";

export type XAxisKind = "step" | "wall_time" | "relative_time";

export interface ChartSeries {
  label: string;
  color: string;
  xs: number[];
  ys: number[];
  mins?: number[];
  maxs?: number[];
}

export interface ChartProps {
  series: ChartSeries[];
  xAxis: XAxisKind;
  logY?: boolean;
  /** EMA weight in [0, 1). */
  smoothing?: number;
  /** Draw the min-max band of buckets. */
  band?: boolean;
  height?: number;
  label: string;
}

const X_LABEL: Record<XAxisKind, string> = {
  step: "step",
  wall_time: "time",
  relative_time: "seconds since start",
};

interface Built {
  data: AlignedData;
  opts: Omit<Options, "width" | "height">;
  points: number;
  logOk: boolean;
  /** Largest x drawn (in the series' own units), for tests. */
  xMax: number;
}

function build(props: ChartProps): Built {
  const { series, xAxis, smoothing = 0, band = true } = props;
  const tables: AlignedData[] = [];
  const uSeries: uPlot.Series[] = [{ label: X_LABEL[xAxis] }];
  const bands: uPlot.Band[] = [];
  let points = 0;
  let minY = Number.POSITIVE_INFINITY;
  series.forEach((s) => {
    const xs = xAxis === "wall_time" ? s.xs.map((x) => x / 1000) : s.xs;
    const cols: Array<Array<number | null>> = [];
    const base = uSeries.length;
    const hasBand = band && s.mins && s.maxs && s.mins.some((m, i) => m !== s.maxs![i]);
    if (hasBand) {
      cols.push(s.maxs!, s.mins!);
      uSeries.push(
        {
          label: `${s.label} max`,
          stroke: withAlpha(s.color, 0.25),
          width: 0.5,
          points: { show: false },
          spanGaps: true,
        },
        {
          label: `${s.label} min`,
          stroke: withAlpha(s.color, 0.25),
          width: 0.5,
          points: { show: false },
          spanGaps: true,
        },
      );
      bands.push({ series: [base, base + 1], fill: withAlpha(s.color, 0.14) });
    }
    const smoothed = smoothing > 0 ? ema(s.ys, smoothing) : null;
    cols.push(s.ys);
    uSeries.push({
      label: smoothed ? `${s.label} raw` : s.label,
      stroke: smoothed ? withAlpha(s.color, 0.35) : s.color,
      width: smoothed ? 1 : 1.75,
      // A line needs two points: one point alone gets a marker big enough to see.
      points: { show: s.ys.length < 60, size: s.ys.length === 1 ? 10 : 4, fill: s.color },
      spanGaps: true,
    });
    if (smoothed) {
      cols.push(smoothed);
      uSeries.push({ label: s.label, stroke: s.color, width: 2, points: { show: false }, spanGaps: true });
    }
    for (const v of s.mins ?? s.ys) if (v < minY) minY = v;
    points += s.ys.length;
    tables.push([xs, ...cols] as AlignedData);
  });
  const data: AlignedData = tables.length === 1 ? tables[0] : tables.length ? uPlot.join(tables) : [[]];
  const logOk = minY > 0;
  const axisColor = cssVar("--chart-axis", "#666");
  const gridColor = cssVar("--chart-grid", "rgba(0,0,0,0.08)");
  const font = "11px system-ui, sans-serif";
  const decades =
    props.logY && logOk
      ? (_u: uPlot, splits: number[]) =>
          splits.map((v) => (Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9 ? v : null))
      : null;
  const opts: Omit<Options, "width" | "height"> = {
    series: uSeries,
    bands,
    legend: { show: false },
    cursor: { drag: { x: true, y: false }, points: { size: 6 } },
    scales: {
      // uPlot cannot place anything on a zero-width x range (every series a single, equal x).
      x: {
        time: xAxis === "wall_time",
        range: (_u, min, max) => (min === max ? [min - 1, max + 1] : [min, max]),
      },
      y: props.logY && logOk ? { distr: 3 } : {},
    },
    axes: [
      {
        stroke: axisColor,
        grid: { stroke: gridColor, width: 1 },
        ticks: { stroke: gridColor },
        font,
        label: undefined,
      },
      {
        stroke: axisColor,
        // On a log scale keep only the decades: 2..9 x 10^k would grid the chart into stripes.
        grid: { stroke: gridColor, width: 1, ...(decades ? { filter: decades } : {}) },
        ticks: { stroke: gridColor, ...(decades ? { filter: decades } : {}) },
        font,
        size: 56,
        values: (_u, vals) => vals.map((v) => (v === null ? "" : fmtNumber(v, 3))),
        ...(decades ? { filter: decades } : {}),
      },
    ],
  };
  let xMax = Number.NEGATIVE_INFINITY;
  for (const s of series) if (s.xs.length) xMax = Math.max(xMax, s.xs[s.xs.length - 1]);
  return { data, opts, points, logOk, xMax };
}

export function Chart(props: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const readout = useRef<HTMLDivElement>(null);
  const [theme, setTheme] = useState(0);
  const height = props.height ?? 220;

  useEffect(() => {
    const bump = () => setTheme((t) => t + 1);
    window.addEventListener("selfsup:theme", bump);
    const mq = window.matchMedia("(prefers-color-scheme: dark)");
    mq.addEventListener("change", bump);
    return () => {
      window.removeEventListener("selfsup:theme", bump);
      mq.removeEventListener("change", bump);
    };
  }, []);

  // Rebuild when the series or the display options change (theme too: colours are baked in).
  // biome-ignore lint/correctness/useExhaustiveDependencies: theme is a redraw trigger
  const built = useMemo(
    () => build(props),
    [props.series, props.xAxis, props.logY, props.smoothing, props.band, theme],
  );

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const names = built.opts.series.map((s) => String(s.label ?? ""));
    const opts: Options = {
      ...built.opts,
      width: Math.max(200, el.clientWidth),
      height,
      hooks: {
        setCursor: [
          (u) => {
            const i = u.cursor.idx;
            const out = readout.current;
            if (!out) return;
            if (i === null || i === undefined) {
              out.textContent = "";
              return;
            }
            const x = u.data[0][i];
            const parts: string[] = [];
            for (let s = 1; s < u.data.length; s++) {
              const v = u.data[s][i];
              if (v !== null && v !== undefined && !names[s].endsWith(" min") && !names[s].endsWith(" max")) {
                parts.push(`${names[s]} ${fmtNumber(v, 5)}`);
              }
            }
            const xs =
              props.xAxis === "wall_time" ? new Date(x * 1000).toLocaleTimeString() : fmtNumber(x, 6);
            out.textContent = `${X_LABEL[props.xAxis]} ${xs}: ${parts.join(" · ")}`;
          },
        ],
      },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, built.data, el);
    const ro = new ResizeObserver(() => {
      if (plot.current && el.clientWidth > 0) plot.current.setSize({ width: el.clientWidth, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [built, height, props.xAxis]);

  return (
    <div>
      <div
        ref={host}
        className="chart-host"
        role="img"
        aria-label={`${props.label}: ${built.points} points`}
        data-testid="chart"
        data-points={built.points}
        data-x-max={Number.isFinite(built.xMax) ? built.xMax : undefined}
        style={{ minHeight: height }}
      />
      <div ref={readout} className="note mono" aria-live="off" style={{ minHeight: 16, fontSize: 11.5 }} />
      {props.logY && !built.logOk && (
        <div className="note">log scale needs positive values; showing linear</div>
      )}
    </div>
  );
}
