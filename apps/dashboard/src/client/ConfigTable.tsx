"use client";
/** A run config as a flat table of dotted paths, with a filter box. */
import { useMemo, useState } from "react";
import { flattenConfig } from "../lib/config-diff";
import { fmtValue } from "./format";

export function ConfigTable({ config }: { config: Record<string, unknown> }) {
  const [q, setQ] = useState("");
  const rows = useMemo(() => [...flattenConfig(config).entries()], [config]);
  const shown = q
    ? rows.filter(([k, v]) => `${k} ${fmtValue(v)}`.toLowerCase().includes(q.toLowerCase()))
    : rows;
  if (rows.length === 0) return <p className="muted">Empty config.</p>;
  return (
    <div>
      <div className="toolbar">
        <input
          type="search"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          placeholder="Filter config…"
          aria-label="Filter config"
        />
        <span className="muted">
          {shown.length} of {rows.length} entries
        </span>
      </div>
      <div className="table-wrap">
        <table className="data" data-testid="config">
          <thead>
            <tr>
              <th>key</th>
              <th>value</th>
            </tr>
          </thead>
          <tbody>
            {shown.map(([k, v]) => (
              <tr key={k}>
                <td className="mono">{k}</td>
                <td className="mono">{fmtValue(v)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
