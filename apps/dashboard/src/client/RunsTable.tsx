"use client";
/**
 * The runs table: keyset-paged from the API as you scroll, rendered virtually (only the rows on
 * screen exist in the DOM), so 100,000 runs scroll like 100. Filters, search and sort live in the
 * URL (shareable); the chosen columns in localStorage. Keyboard: arrows / PageUp / PageDown /
 * Home / End move, Enter opens, Space selects for comparison. Columns live in RunsColumns, the
 * toolbar menus in RunsMenus, paging in useRunPages.
 */
import { useVirtualizer } from "@tanstack/react-virtual";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { type KeyboardEvent, useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  COUNT_QUERY,
  defaultColumns,
  FACETS_QUERY,
  type Facets,
  type InitialRuns,
  type RunCountData,
  readState,
  summaryKeysOf,
  toVariables,
} from "../lib/runs-view";
import { useGql } from "./gql";
import { RunGroups } from "./RunGroups";
import { type Column, columnFor, statsKeysOf } from "./RunsColumns";
import { ColumnMenu, ExportMenu, FilterChips, FilterMenu, GroupMenu } from "./RunsMenus";
import { useRunPages } from "./useRunPages";

const ROW_HEIGHT = 34;
const COLUMNS_KEY = "selfsup.runs.columns";

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
  const statsKeys = useMemo(() => statsKeysOf(columnIds), [columnIds]);

  const { rows, pageInfo, loading, error, loadMore } = useRunPages({ filter, orderBy }, statsKeys, initial);

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
  // Keys do nothing until React has hydrated the server-rendered rows; `data-hydrated` says when
  // (browser tests wait for it instead of racing the first key press).
  const [hydrated, setHydrated] = useState(false);
  useEffect(() => setHydrated(true), []);
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
        <GroupMenu facets={facets} state={state} setParams={setParams} />
        <ExportMenu search={params.toString()} />
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
      {state.group && state.group !== "config:" && state.gmetric && (
        <RunGroups filter={filter} by={state.group} metric={state.gmetric} />
      )}

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
        <div
          className="grid-scroll"
          ref={scrollRef}
          onKeyDown={onKeyDown}
          data-testid="runs-scroll"
          data-hydrated={hydrated || undefined}
        >
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
