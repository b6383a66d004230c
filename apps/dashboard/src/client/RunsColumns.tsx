/**
 * The runs table's columns: the fixed run columns, one per summary key (sortable), and min / max /
 * last of a metric series. Column ids (`name`, `summary:<key>`, `metric:<key>:<stat>`) are what
 * the column chooser stores.
 */
import type { ReactNode } from "react";
import type { RunRow } from "../lib/runs-view";
import { fmtAgo, fmtDate, fmtDuration, fmtNumber } from "./format";
import { StatusBadge } from "./StatusBadge";

export interface Column {
  id: string;
  label: string;
  width: number;
  /** Store order field when the column sorts. */
  sort?: string;
  numeric?: boolean;
  render: (r: RunRow) => ReactNode;
}

export const BASE_COLUMNS: Column[] = [
  { id: "name", label: "Name", width: 260, sort: "name", render: (r) => r.name },
  { id: "status", label: "Status", width: 120, render: (r) => <StatusBadge status={r.status} /> },
  { id: "method", label: "Method", width: 120, render: (r) => r.method },
  { id: "family", label: "Family", width: 110, render: (r) => r.family ?? "" },
  { id: "dataset", label: "Dataset", width: 110, render: (r) => r.dataset ?? "" },
  { id: "backbone", label: "Backbone", width: 110, render: (r) => r.backbone ?? "" },
  { id: "backend", label: "Backend", width: 90, render: (r) => r.backend ?? "" },
  { id: "host", label: "Host", width: 120, render: (r) => r.host ?? "" },
  {
    id: "tags",
    label: "Tags",
    width: 170,
    render: (r) =>
      r.tags.map((t) => (
        <span className="tag" key={t}>
          {t}
        </span>
      )),
  },
  {
    id: "created",
    label: "Created",
    width: 150,
    sort: "created_at",
    // Local time: the server's rendering may differ from the browser's, which then wins.
    render: (r) => (
      <span title={fmtAgo(r.createdAt)} suppressHydrationWarning>
        {fmtDate(r.createdAt)}
      </span>
    ),
  },
  {
    id: "duration",
    label: "Duration",
    width: 90,
    numeric: true,
    render: (r) => fmtDuration(r.durationSeconds),
  },
];

function summaryColumn(key: string): Column {
  return {
    id: `summary:${key}`,
    label: key,
    width: Math.max(100, Math.min(180, 24 + key.length * 8)),
    sort: `summary:${key}`,
    numeric: true,
    render: (r) => fmtNumber(r.summary[key]),
  };
}

function statsColumn(key: string, stat: "min" | "max" | "last"): Column {
  return {
    id: `metric:${key}:${stat}`,
    label: `${key} ${stat}`,
    width: Math.max(110, Math.min(200, 24 + (key.length + stat.length + 1) * 8)),
    numeric: true,
    render: (r) => fmtNumber(r.metricStats?.find((s) => s.key === key)?.[stat]),
  };
}

export function columnFor(id: string): Column | null {
  const base = BASE_COLUMNS.find((c) => c.id === id);
  if (base) return base;
  if (id.startsWith("summary:")) return summaryColumn(id.slice(8));
  const m = /^metric:(.+):(min|max|last)$/.exec(id);
  if (m) return statsColumn(m[1], m[2] as "min" | "max" | "last");
  return null;
}

/** The metric keys whose min / max / last the chosen columns show (at most 10, for the query). */
export function statsKeysOf(columnIds: readonly string[]): string[] {
  return [
    ...new Set(
      columnIds
        .filter((c) => c.startsWith("metric:"))
        .map((c) => (/^metric:(.+):(min|max|last)$/.exec(c) ?? [])[1])
        .filter(Boolean),
    ),
  ].slice(0, 10);
}
