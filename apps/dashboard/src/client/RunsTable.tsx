"use client";
/**
 * The runs table: keyset-paged from the API as you scroll, rendered virtually (only the rows on
 * screen exist in the DOM), so 100,000 runs scroll like 100. Filters, search and sort live in the
 * URL (shareable); the chosen columns in localStorage. Keyboard: arrows / PageUp / PageDown /
 * Home / End move, Enter opens, Space selects for comparison.
 */
import { useVirtualizer } from "@tanstack/react-virtual";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { type KeyboardEvent, type ReactNode, useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  COUNT_QUERY,
  DEFAULT_COLUMNS,
  defaultColumns,
  FACETS_QUERY,
  type Facets,
  type InitialRuns,
  PAGE,
  RUNS_QUERY,
  type RunCountData,
  type RunRow,
  type RunsPageData,
  readState,
  requestKeyOf,
  STATUSES,
  summaryKeysOf,
  toVariables,
  type ViewState,
} from "../lib/runs-view";
import { fmtAgo, fmtDate, fmtDuration, fmtNumber } from "./format";
import { gql, useGql } from "./gql";
import { Popover } from "./Popover";
import { StatusBadge } from "./StatusBadge";

const ROW_HEIGHT = 34;
const COLUMNS_KEY = "selfsup.runs.columns";

// ---------------------------------------------------------------- columns

interface Column {
  id: string;
  label: string;
  width: number;
  /** Store order field when the column sorts. */
  sort?: string;
  numeric?: boolean;
  render: (r: RunRow) => ReactNode;
}

const BASE_COLUMNS: Column[] = [
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

function columnFor(id: string): Column | null {
  const base = BASE_COLUMNS.find((c) => c.id === id);
  if (base) return base;
  if (id.startsWith("summary:")) return summaryColumn(id.slice(8));
  const m = /^metric:(.+):(min|max|last)$/.exec(id);
  if (m) return statsColumn(m[1], m[2] as "min" | "max" | "last");
  return null;
}

// ---------------------------------------------------------------- component

export function RunsTable({ initial }: { initial?: InitialRuns | null }) {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const state = useMemo(() => readState(new URLSearchParams(params.toString())), [params]);
  const { filter, orderBy } = useMemo(() => toVariables(state), [state]);

  // Set when a run is being opened, so a pending search debounce does not pull the page back here.
  const leaving = useRef(false);
  const openRun = useCallback(
    (id: string) => {
      leaving.current = true;
      router.push(`/runs/${encodeURIComponent(id)}`);
    },
    [router],
  );

  const setParams = useCallback(
    (patch: Record<string, string | null>) => {
      if (leaving.current) return;
      const next = new URLSearchParams(params.toString());
      for (const [k, v] of Object.entries(patch)) {
        if (v === null || v === "") next.delete(k);
        else next.set(k, v);
      }
      const qs = next.toString();
      // The History API (which Next's router follows) rather than router.replace: the table fetches
      // what it needs itself, so the server need not render the page again on every keystroke.
      window.history.replaceState(null, "", qs ? `${pathname}?${qs}` : pathname);
    },
    [params, pathname],
  );

  // Columns: from localStorage after mount (the server render uses the defaults).
  const [columnIds, setColumnIds] = useState<string[]>(() =>
    defaultColumns(summaryKeysOf(initial?.page.runs.edges.map((e) => e.node) ?? [])),
  );
  // Whether the default columns already know the summary keys (from the server's first page).
  const columnsDefaulted = useRef((initial?.page.runs.edges.length ?? 0) > 0);
  const [columnsLoaded, setColumnsLoaded] = useState(false);
  useEffect(() => {
    try {
      const saved = JSON.parse(localStorage.getItem(COLUMNS_KEY) ?? "null");
      if (Array.isArray(saved) && saved.every((c) => typeof c === "string")) setColumnIds(saved);
    } catch {}
    setColumnsLoaded(true);
  }, []);
  const chooseColumns = (ids: string[]) => {
    setColumnIds(ids);
    try {
      localStorage.setItem(COLUMNS_KEY, JSON.stringify(ids));
    } catch {}
  };

  const filterKey = JSON.stringify(filter);
  const runCount = useGql<RunCountData>(
    COUNT_QUERY,
    { filter },
    { initial: initial && initial.filterKey === filterKey ? { runCount: initial.runCount } : undefined },
  );
  const facets = useGql<{ facets: Facets }>(FACETS_QUERY, undefined).data?.facets;

  const columns = useMemo(() => columnIds.map(columnFor).filter((c): c is Column => c !== null), [columnIds]);
  const statsKeys = useMemo(
    () =>
      [
        ...new Set(
          columnIds
            .filter((c) => c.startsWith("metric:"))
            .map((c) => (/^metric:(.+):(min|max|last)$/.exec(c) ?? [])[1])
            .filter(Boolean),
        ),
      ].slice(0, 10),
    [columnIds],
  );

  // ------------------------------------------------ paging
  const requestKey = requestKeyOf(filter, orderBy, statsKeys);
  // The server rendered the first page for this very request: start from it.
  const fromServer = initial && initial.key === requestKey ? initial.page.runs : undefined;
  const [rows, setRows] = useState<RunRow[]>(() => fromServer?.edges.map((e) => e.node) ?? []);
  const [pageInfo, setPageInfo] = useState<{ hasNextPage: boolean; endCursor: string | null }>(
    () => fromServer?.pageInfo ?? { hasNextPage: false, endCursor: null },
  );
  const [loading, setLoading] = useState(!fromServer);
  const skipFirstFetch = useRef(fromServer !== undefined);
  const [error, setError] = useState<string>();
  const generation = useRef(0);
  const inFlight = useRef(false);
  type RunsData = RunsPageData;
  // biome-ignore lint/correctness/useExhaustiveDependencies: requestKey holds filter, orderBy and statsKeys by value, so an equal URL does not refetch
  const fetchPage = useCallback(
    (after: string | null) =>
      gql<RunsData>(RUNS_QUERY, {
        filter,
        orderBy,
        first: PAGE,
        after,
        statsKeys,
        withStats: statsKeys.length > 0,
      }),
    [requestKey],
  );

  useEffect(() => {
    const gen = ++generation.current;
    if (skipFirstFetch.current) {
      skipFirstFetch.current = false;
      return;
    }
    inFlight.current = true;
    setLoading(true);
    fetchPage(null)
      .then((d) => {
        if (gen !== generation.current) return;
        setRows(d.runs.edges.map((e) => e.node));
        setPageInfo(d.runs.pageInfo);
        setError(undefined);
      })
      .catch((e: Error) => gen === generation.current && setError(e.message))
      .finally(() => {
        if (gen === generation.current) {
          inFlight.current = false;
          setLoading(false);
        }
      });
  }, [fetchPage]);

  const loadMore = useCallback(() => {
    if (inFlight.current || !pageInfo.hasNextPage || !pageInfo.endCursor) return;
    const gen = generation.current;
    inFlight.current = true;
    setLoading(true);
    fetchPage(pageInfo.endCursor)
      .then((d) => {
        if (gen !== generation.current) return;
        setRows((rs) => [...rs, ...d.runs.edges.map((e) => e.node)]);
        setPageInfo(d.runs.pageInfo);
      })
      .catch((e: Error) => gen === generation.current && setError(e.message))
      .finally(() => {
        if (gen === generation.current) {
          inFlight.current = false;
          setLoading(false);
        }
      });
  }, [fetchPage, pageInfo]);

  // Without a server-rendered page, default the summary columns once the first rows arrive
  // (unless the user chose columns).
  useEffect(() => {
    if (!columnsLoaded || columnsDefaulted.current || rows.length === 0) return;
    columnsDefaulted.current = true;
    if (localStorage.getItem(COLUMNS_KEY) !== null) return;
    setColumnIds(defaultColumns(summaryKeysOf(rows)));
  }, [columnsLoaded, rows]);

  // ------------------------------------------------ virtual rows
  const scrollRef = useRef<HTMLDivElement>(null);
  const count = rows.length + (pageInfo.hasNextPage ? 1 : 0);
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
    // What the server render (and hydration) assume before the real size is measured.
    initialRect: { width: 1400, height: 720 },
  });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1].index : -1;
  useEffect(() => {
    if (lastIndex >= rows.length - 30) loadMore();
  }, [lastIndex, rows.length, loadMore]);

  // ------------------------------------------------ selection + keyboard
  const [selected, setSelected] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  const toggle = (id: string) =>
    setSelected((s) => (s.includes(id) ? s.filter((x) => x !== id) : [...s, id].slice(-10)));

  const focusRow = (i: number) => {
    const idx = Math.max(0, Math.min(rows.length - 1, i));
    setActive(idx);
    virtualizer.scrollToIndex(idx, { align: "auto" });
    requestAnimationFrame(() =>
      scrollRef.current?.querySelector<HTMLElement>(`[data-index="${idx}"]`)?.focus(),
    );
  };
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (!rows.length) return;
    const perPage = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 400) / ROW_HEIGHT) - 2);
    if ((e.target as HTMLElement).tagName === "INPUT") return;
    const run = rows[active];
    switch (e.key) {
      case "ArrowDown":
        focusRow(active + 1);
        break;
      case "ArrowUp":
        focusRow(active - 1);
        break;
      case "PageDown":
        focusRow(active + perPage);
        break;
      case "PageUp":
        focusRow(active - perPage);
        break;
      case "Home":
        focusRow(0);
        break;
      case "End":
        focusRow(rows.length - 1);
        break;
      case "Enter":
        if (run) openRun(run.id);
        break;
      case " ":
        if (run) toggle(run.id);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  // ------------------------------------------------ search box (debounced into the URL)
  const [searchText, setSearchText] = useState(state.search);
  useEffect(() => setSearchText(state.search), [state.search]);
  useEffect(() => {
    if (searchText === state.search) return;
    const t = setTimeout(() => setParams({ q: searchText || null }), 250);
    return () => clearTimeout(t);
  }, [searchText, state.search, setParams]);

  const sortBy = (field: string) => {
    if (state.sort === field) setParams({ dir: state.dir === "desc" ? "asc" : "desc" });
    else setParams({ sort: field === "created_at" ? null : field, dir: field === "name" ? "asc" : null });
  };

  const template = `36px ${columns.map((c) => `${c.width}px`).join(" ")}`;
  const total = runCount.data?.runCount;

  return (
    <section aria-label="Runs">
      <div className="toolbar">
        <h1 style={{ margin: 0 }}>Runs</h1>
        <span className="muted" aria-live="polite" data-testid="run-count">
          {total === undefined ? "" : `${total.toLocaleString("en-US")} run${total === 1 ? "" : "s"}`}
        </span>
        <span className="grow" />
        <input
          type="search"
          placeholder="Search name, method, notes…"
          aria-label="Search runs"
          value={searchText}
          onChange={(e) => setSearchText(e.target.value)}
        />
        <FilterMenu facets={facets} state={state} setParams={setParams} />
        <ColumnMenu facets={facets} columnIds={columnIds} onChange={chooseColumns} />
        <Link
          className={`button${selected.length >= 2 ? " primary" : ""}`}
          href={selected.length ? `/compare?ids=${selected.map(encodeURIComponent).join(",")}` : "/compare"}
          aria-disabled={selected.length < 2}
          data-testid="compare-selected"
        >
          Compare{selected.length ? ` (${selected.length})` : ""}
        </Link>
      </div>

      <FilterChips state={state} setParams={setParams} />

      {error && (
        <div className="error-box" role="alert">
          {error}
        </div>
      )}
      <div
        className="grid"
        role="table"
        aria-label="Runs"
        aria-rowcount={total !== undefined ? total + 1 : -1}
      >
        <div className="grid-scroll" ref={scrollRef} onKeyDown={onKeyDown} data-testid="runs-scroll">
          <div className="grid-head" role="row" aria-rowindex={1} style={{ gridTemplateColumns: template }}>
            <div role="columnheader">
              <span className="sr-only" style={{ position: "absolute", left: -9999 }}>
                Select
              </span>
            </div>
            {columns.map((c) => {
              const sorted = c.sort && state.sort === c.sort;
              return (
                <div
                  key={c.id}
                  role="columnheader"
                  className={c.numeric ? "num" : undefined}
                  aria-sort={sorted ? (state.dir === "asc" ? "ascending" : "descending") : undefined}
                >
                  {c.sort ? (
                    <button
                      type="button"
                      className="sort"
                      onClick={() => sortBy(c.sort!)}
                      title={`Sort by ${c.label}`}
                    >
                      {c.label}
                      <span aria-hidden="true">{sorted ? (state.dir === "asc" ? "▲" : "▼") : ""}</span>
                    </button>
                  ) : (
                    c.label
                  )}
                </div>
              );
            })}
          </div>
          <div role="rowgroup" style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {items.map((item) => {
              const run = rows[item.index];
              if (!run) {
                return (
                  <div
                    key="loader"
                    className="grid-row"
                    role="row"
                    style={{ top: item.start, gridTemplateColumns: template }}
                  >
                    <div />
                    {columns.map((c) => (
                      <div key={c.id}>
                        <span className="skeleton" />
                      </div>
                    ))}
                  </div>
                );
              }
              const isSel = selected.includes(run.id);
              return (
                <div
                  key={run.id}
                  className={`grid-row${item.index === active ? " active" : ""}`}
                  role="row"
                  aria-rowindex={item.index + 2}
                  aria-selected={isSel}
                  data-index={item.index}
                  data-run-id={run.id}
                  tabIndex={item.index === active ? 0 : -1}
                  style={{ top: item.start, gridTemplateColumns: template }}
                  onFocus={() => setActive(item.index)}
                  onClick={(e) => {
                    const target = e.target as HTMLElement;
                    if (target.closest("input")) return;
                    if (target.closest("a")) {
                      // The link navigates (or opens a tab with a modifier key).
                      if (!(e.metaKey || e.ctrlKey || e.shiftKey)) leaving.current = true;
                      return;
                    }
                    openRun(run.id);
                  }}
                >
                  <div role="cell">
                    <input
                      type="checkbox"
                      tabIndex={-1}
                      checked={isSel}
                      onChange={() => toggle(run.id)}
                      aria-label={`Select ${run.name} for comparison`}
                    />
                  </div>
                  {columns.map((c) => (
                    <div key={c.id} role="cell" className={c.numeric ? "num" : undefined}>
                      {c.id === "name" ? (
                        <Link
                          href={`/runs/${encodeURIComponent(run.id)}`}
                          tabIndex={-1}
                          title={run.name}
                          prefetch={false}
                        >
                          {run.name}
                        </Link>
                      ) : (
                        c.render(run)
                      )}
                    </div>
                  ))}
                </div>
              );
            })}
          </div>
          {!loading && rows.length === 0 && !error && (
            <p className="notice" style={{ margin: 12 }}>
              No runs match.{" "}
              {total === 0 && !Object.keys(filter).length
                ? "Train one with `selfsup train`, then reload."
                : "Loosen the filters."}
            </p>
          )}
        </div>
        <div className="grid-status">
          <span>
            {rows.length.toLocaleString("en-US")} loaded{pageInfo.hasNextPage ? " · scroll for more" : ""}
            {loading ? " · loading…" : ""}
          </span>
          <span className="grow" />
          <span>↑↓ move · Enter open · Space select</span>
        </div>
      </div>
    </section>
  );
}

// ---------------------------------------------------------------- filters

const FACET_FIELDS = [
  { param: "method", label: "Method", facet: "methods" },
  { param: "family", label: "Family", facet: "families" },
  { param: "dataset", label: "Dataset", facet: "datasets" },
  { param: "backbone", label: "Backbone", facet: "backbones" },
  { param: "tag", label: "Tag", facet: "tags" },
] as const;

function FilterMenu({
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

function FilterChips({
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

function ColumnMenu({
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
