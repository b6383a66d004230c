/**
 * The suite's report (issue 26, item 11): a figure reported against a goal is not a passing check.
 * Its load row used to print "p95 434 ms (goal NOT met)" and count as expected.
 */
import { describe, expect, it } from "vitest";
import { type CaseRow, formatReport } from "../src/report.js";

describe("the fault suite's report", () => {
  const rows: CaseRow[] = [
    { section: "load", name: "0 errors", expected: "0 errors", got: "0 errors", ok: true },
    {
      section: "load",
      name: "p95 latency goal (< 150 ms)",
      expected: "figure only",
      got: "p95 434 ms: goal NOT met",
      ok: false,
      kind: "figure",
    },
    { section: "load", name: "a check that failed", expected: "x", got: "y", ok: false },
  ];

  it("prints a figure as 'fig' and counts it neither as expected nor as not", () => {
    const text = formatReport(rows);
    expect(text).toContain("== load (1/2 as expected; 1 figure, not checks)");
    expect(text).toMatch(/p95 latency goal \(< 150 ms\)\s+fig\s/);
    expect(text).toMatch(/a check that failed\s+NO\s/);
    expect(text).toContain(
      "== totals: 2 checks, 1 as expected, 1 not, crashes 0, metric points lost 0; 1 figures reported, not checked",
    );
  });

  it("a missed goal made a real check counts as not expected", () => {
    const enforced = rows.map((r) => ({ ...r, kind: "check" as const }));
    expect(formatReport(enforced)).toContain("== load (1/3 as expected)");
  });
});
