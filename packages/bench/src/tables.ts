/**
 * The quality bench's tables (a fixed-width one for the log, a Markdown one for the READMEs) and
 * its JSON results file.
 */
import { writeFileAtomic } from "@selfsup/core";
import type { QualityBenchRow } from "./rows.js";

/** Optional columns of the tables: shown when a row has them. */
export interface Columns {
  probe100: boolean;
  fineTune: boolean;
}

export function columnsOf(rows: readonly QualityBenchRow[]): Columns {
  return {
    probe100: rows.some((r) => r.probe100 !== undefined),
    fineTune: rows.some((r) => r.fineTune10 !== undefined),
  };
}

export const pctOrDash = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? "-" : `${(100 * v).toFixed(1)}%`;
const stdOrBlank = (v: number | undefined) =>
  v === undefined || !Number.isFinite(v) ? "" : (100 * v).toFixed(1);

/** The rows as a markdown table (for READMEs and notes); ± is the std (see `aggregateSeeds`). */
export function formatMarkdownTable(rows: readonly QualityBenchRow[]): string {
  const cols = columnsOf(rows);
  const pm = (v: number | undefined, s: number | undefined) =>
    `${pctOrDash(v)}${s !== undefined && Number.isFinite(s) && s > 0 ? ` ± ${(100 * s).toFixed(1)}` : ""}`;
  const head = [
    "method",
    "epochs",
    "seconds",
    "img/s",
    "kNN top-1",
    "10-label probe",
    ...(cols.probe100 ? ["100-label probe"] : []),
    ...(cols.fineTune ? ["10-label fine-tune"] : []),
  ];
  const lines = [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`,
  ];
  for (const r of rows) {
    const cells = [
      r.method,
      String(r.epochs),
      r.seconds.toFixed(0),
      r.imagesPerSec.toFixed(0),
      pm(r.knnTop1, r.knnTop1Std),
      pm(r.probe10, r.probe10Std),
      ...(cols.probe100 ? [pm(r.probe100, r.probe100Std)] : []),
      ...(cols.fineTune ? [pm(r.fineTune10, r.fineTune10Std)] : []),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

export function formatHeader(cols: Columns): string {
  const p100 = cols.probe100 ? `${"probe@100".padStart(11)}${"±".padStart(7)}` : "";
  const ft = cols.fineTune ? `${"finetune@10".padStart(13)}${"±".padStart(7)}` : "";
  return `${"method".padEnd(22)}${"epochs".padStart(7)}${"seconds".padStart(9)}${"img/s".padStart(8)}${"kNN top1".padStart(10)}${"probe@10".padStart(10)}${"±".padStart(7)}${p100}${ft}`;
}

export function formatRow(r: QualityBenchRow, cols: Columns): string {
  const p100 = cols.probe100
    ? pctOrDash(r.probe100).padStart(11) + stdOrBlank(r.probe100Std).padStart(7)
    : "";
  const ft = cols.fineTune
    ? pctOrDash(r.fineTune10).padStart(13) + stdOrBlank(r.fineTune10Std).padStart(7)
    : "";
  return (
    r.method.padEnd(22) +
    String(r.epochs).padStart(7) +
    r.seconds.toFixed(0).padStart(9) +
    r.imagesPerSec.toFixed(0).padStart(8) +
    pctOrDash(r.knnTop1).padStart(10) +
    pctOrDash(r.probe10).padStart(10) +
    stdOrBlank(r.probe10Std).padStart(7) +
    p100 +
    ft
  );
}

/**
 * The rows as a fixed-width table (probe@10 / probe@100 = linear probe with 10 / 100 labels per
 * class; finetune@10, when the rows have it, = the encoder fine-tuned on 10 labels per class).
 */
export function formatTable(rows: readonly QualityBenchRow[]): string {
  const cols = columnsOf(rows);
  return [formatHeader(cols), ...rows.map((r) => formatRow(r, cols))].join("\n");
}

/**
 * Writes the rows, with the title, backend, date and the settings they were measured under, as
 * JSON (atomically: a reader sees the old file or the new one).
 */
export async function writeQualityResults(
  file: string,
  results: {
    title: string;
    backend: string | null;
    options: Record<string, unknown>;
    rows: readonly QualityBenchRow[];
  },
): Promise<void> {
  const { title, backend, options, rows } = results;
  const json = { title, backend, date: new Date().toISOString(), options, rows };
  await writeFileAtomic(file, `${JSON.stringify(json, null, 2)}\n`);
}
