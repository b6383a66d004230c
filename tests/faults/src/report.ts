/**
 * Results of the fault suite: every case appends a row to a JSON-lines file (the test files run
 * in child processes), and the global teardown prints them as tables.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs";

export interface CaseRow {
  section: string;
  name: string;
  expected: string;
  got: string;
  ok: boolean;
  /**
   * `figure`: a measurement reported against a goal but not a check: printed as "fig", counted
   * neither as expected nor as not (a check that cannot fail would be a defect). Default: check.
   */
  kind?: "check" | "figure";
  /** Numbers for the summary (points lost, latency, ...). */
  figures?: Record<string, number | string>;
}

/** Appends a case's row to `file` (the suite's results file, from inject("resultsFile")). */
export function appendRow(file: string, row: CaseRow): void {
  appendFileSync(file, `${JSON.stringify(row)}\n`);
}

export function readRows(file: string): CaseRow[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as CaseRow);
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function isCheck(r: CaseRow): boolean {
  return r.kind !== "figure";
}

/** The printed report: one table per section, then the totals. */
export function formatReport(rows: CaseRow[]): string {
  const out: string[] = [];
  const sections = [...new Set(rows.map((r) => r.section))];
  for (const s of sections) {
    const mine = rows.filter((r) => r.section === s);
    const checks = mine.filter(isCheck);
    const figureCount = mine.length - checks.length;
    out.push(
      `\n== ${s} (${checks.filter((r) => r.ok).length}/${checks.length} as expected${figureCount ? `; ${figureCount} figure${figureCount > 1 ? "s" : ""}, not checks` : ""})`,
    );
    out.push(
      table(
        ["case", "ok", "expected", "got"],
        mine.map((r) => [
          clip(r.name, 48),
          isCheck(r) ? (r.ok ? "yes" : "NO") : "fig",
          clip(r.expected, 60),
          clip(r.got, 90),
        ]),
      ),
    );
    const figs = mine.filter((r) => r.figures);
    if (figs.length > 0) {
      for (const r of figs)
        out.push(
          `  ${r.name}: ${Object.entries(r.figures ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(", ")}`,
        );
    }
  }
  const checks = rows.filter(isCheck);
  const crashes = checks.filter((r) => /crash|unhandled|stack/i.test(r.got) && !r.ok).length;
  const lost = rows.reduce((a, r) => a + Number(r.figures?.points_lost ?? 0), 0);
  out.push(
    `\n== totals: ${checks.length} checks, ${checks.filter((r) => r.ok).length} as expected, ${checks.filter((r) => !r.ok).length} not, crashes ${crashes}, metric points lost ${lost}; ${rows.length - checks.length} figures reported, not checked`,
  );
  return out.join("\n");
}
