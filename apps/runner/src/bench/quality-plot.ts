/**
 * The quality bench's plot: 10-label probe and kNN top-1 against pretraining time, one line per
 * method (mean over pretraining seeds at each scored epoch), raw pixels and random init as dashed
 * rules. Specified in Vega-Lite, rendered to SVG by Vega (no browser, no canvas) and to PNG by
 * resvg; both files are written atomically next to the section's JSON results.
 */
import { writeFileAtomic } from "@selfsup/core";
import type { TopLevelSpec } from "vega-lite";

/** The part of core's QualityBenchRow the plot reads (kept structural: no import of core's bench). */
export interface PlotRow {
  method: string;
  seconds: number;
  knnTop1: number;
  probe10: number;
  perSeed?: Array<{
    seconds: number;
    knnTop1: number;
    probe10: number[];
    curve?: Array<{ epoch: number; seconds: number; knnTop1: number; probe10: number }>;
  }>;
}

interface CurveDatum {
  method: string;
  seconds: number;
  score: number;
  metric: string;
}

const METRICS = [
  { key: "probe10", title: "10-label linear probe (top-1)" },
  { key: "knnTop1", title: "weighted kNN, k = 200 (top-1)" },
] as const;

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / Math.max(xs.length, 1);

/** Curve points per method and metric, averaged over pretraining seeds epoch by epoch. */
export function curveData(rows: readonly PlotRow[]): { lines: CurveDatum[]; rules: CurveDatum[] } {
  const lines: CurveDatum[] = [];
  const rules: CurveDatum[] = [];
  for (const row of rows) {
    const seeds = row.perSeed ?? [];
    if (seeds.length === 0) {
      // a baseline: no training time, drawn as a rule
      for (const m of METRICS)
        rules.push({ method: row.method, seconds: 0, score: row[m.key], metric: m.title });
      continue;
    }
    const epochs = new Map<number, Array<{ seconds: number; knnTop1: number; probe10: number }>>();
    for (const s of seeds) {
      const curve = s.curve ?? [
        { epoch: 0, seconds: s.seconds, knnTop1: s.knnTop1, probe10: mean(s.probe10) },
      ];
      for (const p of curve) epochs.set(p.epoch, [...(epochs.get(p.epoch) ?? []), p]);
    }
    for (const [, points] of [...epochs.entries()].sort((a, b) => a[0] - b[0])) {
      const seconds = mean(points.map((p) => p.seconds));
      for (const m of METRICS)
        lines.push({
          method: row.method,
          seconds,
          score: mean(points.map((p) => p[m.key])),
          metric: m.title,
        });
    }
  }
  return { lines, rules };
}

/** The Vega-Lite spec: two panels side by side (probe, kNN), a colour per method. */
export function qualityPlotSpec(rows: readonly PlotRow[], title: string): TopLevelSpec {
  const { lines, rules } = curveData(rows);
  const panel = (metric: string) => ({
    title: metric,
    width: 420,
    height: 300,
    layer: [
      {
        data: { values: lines.filter((d) => d.metric === metric) },
        mark: { type: "line" as const, point: true },
        encoding: {
          x: { field: "seconds", type: "quantitative" as const, title: "pretraining seconds" },
          y: {
            field: "score",
            type: "quantitative" as const,
            title: "top-1",
            scale: { zero: false },
            axis: { format: ".0%" },
          },
          color: { field: "method", type: "nominal" as const, title: "method" },
        },
      },
      {
        data: { values: rules.filter((d) => d.metric === metric) },
        mark: { type: "rule" as const, strokeDash: [6, 4] },
        encoding: {
          y: { field: "score", type: "quantitative" as const },
          color: { field: "method", type: "nominal" as const, title: "method" },
        },
      },
    ],
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, subtitle: "dashed: baselines without pretraining" },
    background: "white",
    padding: 12,
    hconcat: METRICS.map((m) => panel(m.title)),
    resolve: { scale: { color: "shared" } },
  };
}

/**
 * Renders the plot to `<base>.svg` and `<base>.png`; returns the PNG's path. Vega, Vega-Lite and
 * resvg are loaded here, on first use, so the CLI's start-up does not pay for them.
 */
export async function writeQualityPlot(
  rows: readonly PlotRow[],
  base: string,
  title: string,
): Promise<string> {
  const [vega, vegaLite, { Resvg }] = await Promise.all([
    import("vega"),
    import("vega-lite"),
    import("@resvg/resvg-js"),
  ]);
  const compiled = vegaLite.compile(qualityPlotSpec(rows, title));
  const view = new vega.View(vega.parse(compiled.spec), { renderer: "none" });
  let svg: string;
  try {
    svg = await view.toSVG(2);
  } finally {
    view.finalize();
  }
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" } })
    .render()
    .asPng();
  await writeFileAtomic(`${base}.svg`, svg);
  await writeFileAtomic(`${base}.png`, png);
  return `${base}.png`;
}
