"use client";
/** The runs table's toolbar menus: facet and date filters, the active-filter chips, the column chooser. */
import { DEFAULT_COLUMNS, type Facets, STATUSES, type ViewState } from "../lib/runs-view";
import { Popover } from "./Popover";
import { GROUP_BY } from "./RunGroups";
import { BASE_COLUMNS } from "./RunsColumns";

const FACET_FIELDS = [
  { param: "method", label: "Method", facet: "methods" },
  { param: "family", label: "Family", facet: "families" },
  { param: "dataset", label: "Dataset", facet: "datasets" },
  { param: "backbone", label: "Backbone", facet: "backbones" },
  { param: "tag", label: "Tag", facet: "tags" },
] as const;

export function FilterMenu({
  facets,
  state,
  setParams,
}: {
  facets: Facets | undefined;
  state: ViewState;
  setParams: (p: Record<string, string | null>) => void;
}) {
  return (
    <Popover label="Filter">
      <div style={{ display: "grid", gap: 8 }}>
        {FACET_FIELDS.map((f) => (
          <label key={f.param} style={{ display: "grid", gridTemplateColumns: "80px 1fr", gap: 8 }}>
            <span>{f.label}</span>
            <select
              value={state[f.param]}
              onChange={(e) => setParams({ [f.param]: e.target.value || null })}
              aria-label={`Filter by ${f.label.toLowerCase()}`}
            >
              <option value="">any</option>
              {(facets?.[f.facet] ?? []).map((v) => (
                <option key={v.value} value={v.value}>
                  {v.value} ({v.count})
                </option>
              ))}
            </select>
          </label>
        ))}
        <fieldset>
          <legend>Status</legend>
          <div className="row">
            {STATUSES.map((s) => (
              <label key={s} className="inline">
                <input
                  type="checkbox"
                  checked={state.status.includes(s)}
                  onChange={() => {
                    const next = state.status.includes(s)
                      ? state.status.filter((x) => x !== s)
                      : [...state.status, s];
                    setParams({ status: next.join(",") || null });
                  }}
                />
                {s.toLowerCase()}
              </label>
            ))}
          </div>
        </fieldset>
        <label style={{ display: "grid", gridTemplateColumns: "80px 1fr", gap: 8 }}>
          <span>From</span>
          <input
            type="date"
            value={state.from}
            onChange={(e) => setParams({ from: e.target.value || null })}
            aria-label="Created from"
          />
        </label>
        <label style={{ display: "grid", gridTemplateColumns: "80px 1fr", gap: 8 }}>
          <span>To</span>
          <input
            type="date"
            value={state.to}
            onChange={(e) => setParams({ to: e.target.value || null })}
            aria-label="Created until"
          />
        </label>
      </div>
    </Popover>
  );
}

export function FilterChips({
  state,
  setParams,
}: {
  state: ViewState;
  setParams: (p: Record<string, string | null>) => void;
}) {
  const chips: Array<{ key: string; label: string; clear: Record<string, string | null> }> = [];
  if (state.search) chips.push({ key: "q", label: `“${state.search}”`, clear: { q: null } });
  for (const f of FACET_FIELDS)
    if (state[f.param])
      chips.push({
        key: f.param,
        label: `${f.label.toLowerCase()}: ${state[f.param]}`,
        clear: { [f.param]: null },
      });
  for (const s of state.status) {
    chips.push({
      key: `status-${s}`,
      label: `status: ${s.toLowerCase()}`,
      clear: { status: state.status.filter((x) => x !== s).join(",") || null },
    });
  }
  if (state.from) chips.push({ key: "from", label: `from ${state.from}`, clear: { from: null } });
  if (state.to) chips.push({ key: "to", label: `to ${state.to}`, clear: { to: null } });
  return (
    <section className="chips" aria-label="Active filters" data-testid="filter-chips">
      {chips.map((c) => (
        <span className="chip" key={c.key}>
          {c.label}
          <button type="button" onClick={() => setParams(c.clear)} aria-label={`Remove filter ${c.label}`}>
            ×
          </button>
        </span>
      ))}
      {chips.length > 1 && (
        <button
          type="button"
          className="link"
          onClick={() =>
            setParams({
              q: null,
              method: null,
              family: null,
              dataset: null,
              backbone: null,
              tag: null,
              status: null,
              from: null,
              to: null,
            })
          }
        >
          Clear all
        </button>
      )}
    </section>
  );
}

export function ColumnMenu({
  facets,
  columnIds,
  onChange,
}: {
  facets: Facets | undefined;
  columnIds: string[];
  onChange: (ids: string[]) => void;
}) {
  const toggle = (id: string) =>
    onChange(columnIds.includes(id) ? columnIds.filter((c) => c !== id) : [...columnIds, id]);
  const box = (id: string, label: string) => (
    <label key={id}>
      <input type="checkbox" checked={columnIds.includes(id)} onChange={() => toggle(id)} />
      {label}
    </label>
  );
  return (
    <Popover label="Columns">
      <fieldset>
        <legend>Run</legend>
        {BASE_COLUMNS.map((c) => box(c.id, c.label))}
      </fieldset>
      <fieldset>
        <legend>Summary (sortable)</legend>
        {(facets?.summaryKeys ?? []).map((k) => box(`summary:${k}`, k))}
        {facets && facets.summaryKeys.length === 0 && <span className="muted">none yet</span>}
      </fieldset>
      <fieldset>
        <legend>Metric min / max / last</legend>
        {(facets?.metricKeys ?? []).map((k) => (
          <div key={k} className="row" style={{ gap: 10 }}>
            <span className="mono" style={{ minWidth: 110 }}>
              {k}
            </span>
            {(["min", "max", "last"] as const).map((s) => (
              <label key={s} className="inline">
                <input
                  type="checkbox"
                  checked={columnIds.includes(`metric:${k}:${s}`)}
                  onChange={() => toggle(`metric:${k}:${s}`)}
                />
                {s}
              </label>
            ))}
          </div>
        ))}
      </fieldset>
      <button type="button" className="link" onClick={() => onChange(DEFAULT_COLUMNS)}>
        Reset columns
      </button>
    </Popover>
  );
}

/** Group-by column (or config key) and the summary metric to aggregate. */
export function GroupMenu({
  facets,
  state,
  setParams,
}: {
  facets: Facets | undefined;
  state: ViewState;
  setParams: (p: Record<string, string | null>) => void;
}) {
  const metrics = facets?.summaryKeys ?? [];
  const isConfig = state.group.startsWith("config:");
  return (
    <Popover label={state.group ? `Grouped by ${state.group.replace(/^config:/, "")}` : "Group"}>
      <div style={{ display: "grid", gap: 8 }}>
        <label style={{ display: "grid", gridTemplateColumns: "80px 1fr", gap: 8 }}>
          <span>By</span>
          <select
            aria-label="Group by"
            value={isConfig ? "config" : state.group}
            onChange={(e) => {
              const v = e.target.value;
              setParams({
                group: v === "config" ? "config:" : v || null,
                gmetric: v ? state.gmetric || metrics[0] || null : null,
              });
            }}
          >
            <option value="">no grouping</option>
            {GROUP_BY.map((g) => (
              <option key={g} value={g}>
                {g}
              </option>
            ))}
            <option value="config">config key…</option>
          </select>
        </label>
        {isConfig && (
          <label style={{ display: "grid", gridTemplateColumns: "80px 1fr", gap: 8 }}>
            <span>Config key</span>
            <input
              aria-label="Group by config key"
              placeholder="optimizer.lr"
              defaultValue={state.group.slice("config:".length)}
              onKeyDown={(e) => {
                if (e.key === "Enter") setParams({ group: `config:${e.currentTarget.value.trim()}` });
              }}
            />
          </label>
        )}
        <label style={{ display: "grid", gridTemplateColumns: "80px 1fr", gap: 8 }}>
          <span>Metric</span>
          <select
            aria-label="Group metric"
            value={state.gmetric}
            onChange={(e) => setParams({ gmetric: e.target.value || null })}
          >
            {metrics.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
      </div>
    </Popover>
  );
}

/** Downloads of the runs as filtered and sorted on the page. */
export function ExportMenu({ search }: { search: string }) {
  const href = (format: string) => {
    const p = new URLSearchParams(search);
    for (const k of ["group", "gmetric"]) p.delete(k);
    p.set("format", format);
    return `/api/export/runs?${p.toString()}`;
  };
  return (
    <Popover label="Export">
      <div style={{ display: "grid", gap: 6 }}>
        <a href={href("csv")} download data-testid="export-runs-csv">
          Runs as CSV
        </a>
        <a href={href("json")} download data-testid="export-runs-json">
          Runs as JSON
        </a>
        <span className="note">as filtered and sorted here, up to 100,000 runs</span>
      </div>
    </Popover>
  );
}
