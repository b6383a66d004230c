"use client";
/**
 * Learning curves of a sweep's best configurations on uPlot: per configuration the metric's mean
 * over seeds per epoch, with a ± std band (uPlot bands between hidden upper and lower series).
 */
import { useEffect, useRef } from "react";
import uPlot, { type AlignedData, type Options } from "uplot";
import { colorAt, cssVar, withAlpha } from "./colors";

export interface CurveData {
  trial: number;
  label: string;
  epochs: number[];
  mean: number[];
  std: number[];
}

export function SweepCurves({
  curves,
  metric,
  height = 280,
}: {
  curves: CurveData[];
  metric: string;
  height?: number;
}) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const box = el.current;
    if (!box || curves.length === 0) return;
    const xs = [...new Set(curves.flatMap((c) => c.epochs))].sort((a, b) => a - b);
    const data: (number | null)[][] = [xs];
    const series: uPlot.Series[] = [{ label: "epoch" }];
    const bands: uPlot.Band[] = [];
    curves.forEach((c, i) => {
      const at = (arr: number[]) =>
        xs.map((x) => {
          const j = c.epochs.indexOf(x);
          return j < 0 ? null : (arr[j] as number);
        });
      const mean = at(c.mean);
      const sd = at(c.std);
      const base = data.length;
      data.push(mean);
      data.push(mean.map((m, j) => (m === null ? null : m + (sd[j] ?? 0))));
      data.push(mean.map((m, j) => (m === null ? null : m - (sd[j] ?? 0))));
      const color = colorAt(i);
      series.push({ label: c.label, stroke: color, width: 2, points: { show: true, size: 5 } });
      series.push({ label: `${c.label} +std`, stroke: "transparent", points: { show: false } });
      series.push({ label: `${c.label} -std`, stroke: "transparent", points: { show: false } });
      bands.push({ series: [base + 1, base + 2], fill: withAlpha(color, 0.18) });
    });
    const axis = cssVar("--chart-axis", "#5b6470");
    const grid = cssVar("--chart-grid", "rgba(0,0,0,0.08)");
    const opts: Options = {
      width: Math.max(320, box.clientWidth || 640),
      height,
      series,
      bands,
      scales: { x: { time: false } },
      legend: { show: true },
      axes: [
        { stroke: axis, grid: { stroke: grid }, label: "epoch", incrs: [1, 2, 5, 10, 20, 50] },
        { stroke: axis, grid: { stroke: grid }, label: metric },
      ],
    };
    const plot = new uPlot(opts, data as AlignedData, box);
    return () => plot.destroy();
  }, [curves, metric, height]);
  return <div ref={el} className="sweep-curves" data-curves={curves.length} />;
}
