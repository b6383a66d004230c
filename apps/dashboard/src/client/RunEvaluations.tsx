"use client";

/** The run page's evaluations table: one line per (protocol, labels, metric), mean ± sd over seeds. */
import type { RunDetail } from "../lib/api-types";
import { fmtNumber } from "./format";

export function Evaluations({ rows }: { rows: RunDetail["evaluations"] }) {
  // One line per (protocol, labels, metric): mean and spread over seeds.
  const groups = new Map<
    string,
    { protocol: string; labels: number | null; metric: string; values: number[] }
  >();
  for (const r of rows) {
    const k = `${r.protocol}\u0000${r.labelsPerClass}\u0000${r.metric}`;
    const g = groups.get(k) ?? {
      protocol: r.protocol,
      labels: r.labelsPerClass,
      metric: r.metric,
      values: [],
    };
    g.values.push(r.value);
    groups.set(k, g);
  }
  if (groups.size === 0) return <p className="muted">None yet.</p>;
  return (
    <div className="table-wrap">
      <table className="data" data-testid="evaluations">
        <thead>
          <tr>
            <th>protocol</th>
            <th className="num">labels / class</th>
            <th>metric</th>
            <th className="num">value</th>
            <th className="num">seeds</th>
          </tr>
        </thead>
        <tbody>
          {[...groups.values()].map((g) => {
            const mean = g.values.reduce((a, b) => a + b, 0) / g.values.length;
            const sd =
              g.values.length > 1
                ? Math.sqrt(g.values.reduce((a, b) => a + (b - mean) ** 2, 0) / (g.values.length - 1))
                : null;
            return (
              <tr key={`${g.protocol}-${g.labels}-${g.metric}`}>
                <td>{g.protocol}</td>
                <td className="num">{g.labels ?? "all"}</td>
                <td>{g.metric}</td>
                <td className="num mono">
                  {fmtNumber(mean, 4)}
                  {sd !== null ? ` ± ${fmtNumber(sd, 2)}` : ""}
                </td>
                <td className="num">{g.values.length}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
