"use client";
/**
 * Runs side by side: overlaid curves per metric (one colour per run, same smoothing and axes),
 * their summaries, and a config diff that shows only what differs (toggle for everything).
 * The runs and keys live in the URL: /compare?ids=a,b&keys=loss,lr
 */
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useMemo, useState } from "react";
import type { CompareData } from "../lib/api-types";
import { diffConfigs } from "../lib/config-diff";
import { Chart } from "./Chart";
import { ChartControls, type ChartSettings, DEFAULT_SETTINGS, X_AXIS_ENUM } from "./ChartControls";
import { colorAt } from "./colors";
import { fmtNumber, fmtValue } from "./format";
import { useGql } from "./gql";
import { Popover } from "./Popover";
import { StatusBadge } from "./StatusBadge";

const COMPARE_QUERY = `
query Compare($ids: [ID!]!, $keys: [String!], $maxPoints: Int, $xAxis: XAxis) {
  compare(ids: $ids, keys: $keys, maxPoints: $maxPoints, xAxis: $xAxis) {
    runs { id name method dataset backbone status summary config metricKeys }
    keys
    series { runId series { key total downsampled points { x y min max } } }
    configDiff { path values }
  }
}`;

const SEARCH_QUERY = `
query Pick($search: String) {
  runs(filter: { search: $search }, first: 8) { edges { node { id name method dataset status } } }
}`;

export function CompareView() {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const ids = useMemo(() => (params.get("ids") ?? "").split(",").filter(Boolean).slice(0, 10), [params]);
  const chosenKeys = useMemo(() => (params.get("keys") ?? "").split(",").filter(Boolean), [params]);
  const [settings, setSettings] = useState<ChartSettings>(DEFAULT_SETTINGS);
  const [showAll, setShowAll] = useState(false);

  const set = (patch: Record<string, string[] | null>) => {
    const next = new URLSearchParams(params.toString());
    for (const [k, v] of Object.entries(patch)) {
      if (!v || v.length === 0) next.delete(k);
      else next.set(k, v.join(","));
    }
    router.replace(`${pathname}?${next.toString()}`, { scroll: false });
  };

  const q = useGql<CompareData>(
    COMPARE_QUERY,
    {
      ids,
      keys: chosenKeys.length ? chosenKeys : null,
      maxPoints: ids.length > 4 ? 400 : 1000,
      xAxis: X_AXIS_ENUM[settings.xAxis],
    },
    { skip: ids.length === 0 },
  );
  const c = q.data?.compare;
  const allKeys = useMemo(() => [...new Set((c?.runs ?? []).flatMap((r) => r.metricKeys))].sort(), [c]);
  const summaryKeys = useMemo(
    () => [...new Set((c?.runs ?? []).flatMap((r) => Object.keys(r.summary)))].sort(),
    [c],
  );
  const diff = useMemo(
    () =>
      c
        ? showAll
          ? diffConfigs(
              c.runs.map((r) => r.config),
              { all: true },
            )
          : c.configDiff
        : [],
    [c, showAll],
  );
  const differing = useMemo(() => new Set(c?.configDiff.map((d) => d.path)), [c]);

  return (
    <section aria-label="Compare runs">
      <div className="toolbar">
        <h1 style={{ margin: 0 }}>Compare</h1>
        <span className="muted">
          {ids.length ? `${ids.length} run${ids.length === 1 ? "" : "s"}` : "pick runs to compare"}
        </span>
        <span className="grow" />
        <RunPicker onPick={(id) => !ids.includes(id) && set({ ids: [...ids, id] })} />
      </div>

      {ids.length === 0 && (
        <p className="notice">
          Select runs in the <Link href="/">runs table</Link> (Space or the checkboxes, then Compare), or
          search for them above.
        </p>
      )}
      {q.error && (
        <div className="error-box" role="alert">
          {q.error.message}
        </div>
      )}

      {c && (
        <>
          <section className="legend" aria-label="Runs compared" data-testid="compare-legend">
            {c.runs.map((r, i) => (
              <span className="chip" key={r.id}>
                <span className="swatch" style={{ background: colorAt(i) }} />
                <Link href={`/runs/${encodeURIComponent(r.id)}`}>{r.name}</Link>
                <StatusBadge status={r.status} />
                <button
                  type="button"
                  aria-label={`Remove ${r.name} from the comparison`}
                  onClick={() => set({ ids: ids.filter((x) => x !== r.id) })}
                >
                  ×
                </button>
              </span>
            ))}
          </section>

          <h2>Curves</h2>
          <ChartControls value={settings} onChange={setSettings} />
          <div style={{ display: "inline-block", marginBottom: 8 }}>
            <Popover label={`Metrics (${c.keys.length})`} align="left">
              {allKeys.map((k) => (
                <label key={k}>
                  <input
                    type="checkbox"
                    checked={c.keys.includes(k)}
                    onChange={() =>
                      set({ keys: c.keys.includes(k) ? c.keys.filter((x) => x !== k) : [...c.keys, k] })
                    }
                  />
                  <span className="mono">{k}</span>
                </label>
              ))}
            </Popover>
          </div>
          <div className="charts">
            {c.keys.map((key) => {
              const lines = c.runs
                .map((r, i) => {
                  const s = c.series.find((x) => x.runId === r.id && x.series.key === key)?.series;
                  if (!s || s.points.length === 0) return null;
                  return {
                    label: r.name,
                    color: colorAt(i),
                    xs: s.points.map((p) => p.x),
                    ys: s.points.map((p) => p.y),
                    mins: s.points.map((p) => p.min),
                    maxs: s.points.map((p) => p.max),
                  };
                })
                .filter((l): l is NonNullable<typeof l> => l !== null);
              return (
                <section className="chart-card" key={key} aria-label={`Chart of ${key}`}>
                  <header>
                    <h3>{key}</h3>
                    <span className="note">{lines.length} runs</span>
                  </header>
                  {lines.length ? (
                    <Chart
                      label={key}
                      series={lines}
                      xAxis={settings.xAxis}
                      smoothing={settings.smoothing}
                      logY={settings.logY}
                      band={settings.band && lines.length <= 3}
                    />
                  ) : (
                    <p className="muted">No points.</p>
                  )}
                </section>
              );
            })}
          </div>

          {summaryKeys.length > 0 && (
            <>
              <h2>Summary</h2>
              <div className="table-wrap">
                <table className="data" data-testid="summary-compare">
                  <thead>
                    <tr>
                      <th>key</th>
                      {c.runs.map((r, i) => (
                        <th key={r.id} className="num" style={{ color: colorAt(i) }}>
                          {r.name}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {summaryKeys.map((k) => {
                      const vals = c.runs.map((r) => r.summary[k]);
                      const finite = vals.filter((v): v is number => typeof v === "number");
                      const lowerBetter = /loss|err/i.test(k);
                      const best =
                        finite.length > 1 ? (lowerBetter ? Math.min(...finite) : Math.max(...finite)) : null;
                      return (
                        <tr key={k}>
                          <td className="mono">{k}</td>
                          {vals.map((v, i) => (
                            <td key={c.runs[i].id} className={`num mono${v === best ? " best" : ""}`}>
                              {fmtNumber(v, 5)}
                            </td>
                          ))}
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </>
          )}

          <h2>Config {showAll ? "" : "differences"}</h2>
          <div className="toolbar">
            <label className="inline">
              <input type="checkbox" checked={showAll} onChange={(e) => setShowAll(e.target.checked)} />
              show identical entries too
            </label>
            <span className="muted" data-testid="diff-count">
              {c.configDiff.length} entr{c.configDiff.length === 1 ? "y differs" : "ies differ"}
            </span>
          </div>
          {diff.length === 0 ? (
            <p className="notice">
              {c.runs.length < 2 ? "Add another run to see what differs." : "The configs are identical."}
            </p>
          ) : (
            <div className="table-wrap">
              <table className="data" data-testid="config-diff">
                <thead>
                  <tr>
                    <th>key</th>
                    {c.runs.map((r, i) => (
                      <th key={r.id} style={{ color: colorAt(i) }}>
                        {r.name}
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {diff.map((d) => (
                    <tr
                      key={d.path}
                      className={showAll && differing.has(d.path) ? "diff" : undefined}
                      data-path={d.path}
                    >
                      <td className="mono">{d.path}</td>
                      {d.values.map((v, i) => (
                        <td key={c.runs[i].id} className="mono">
                          {v === undefined || v === null ? <span className="muted">—</span> : fmtValue(v)}
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
      {!c && ids.length > 0 && !q.error && <p className="muted">Loading…</p>}
    </section>
  );
}

function RunPicker({ onPick }: { onPick: (id: string) => void }) {
  const [text, setText] = useState("");
  const results = useGql<{
    runs: {
      edges: Array<{
        node: { id: string; name: string; method: string; dataset: string | null; status: string };
      }>;
    };
  }>(SEARCH_QUERY, { search: text }, { skip: text.trim().length < 2 });
  const hits = text.trim().length >= 2 ? (results.data?.runs.edges ?? []) : [];
  return (
    <div style={{ position: "relative" }}>
      <input
        type="search"
        placeholder="Add a run: search…"
        aria-label="Search a run to add"
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      {hits.length > 0 && (
        <ul
          className="popover-body"
          style={{
            position: "absolute",
            right: 0,
            top: "calc(100% + 4px)",
            listStyle: "none",
            margin: 0,
            zIndex: 30,
          }}
        >
          {hits.map(({ node }) => (
            <li key={node.id}>
              <button
                type="button"
                className="link"
                onClick={() => {
                  onPick(node.id);
                  setText("");
                }}
              >
                {node.name}{" "}
                <span className="muted">
                  ({node.method}, {node.dataset ?? "—"})
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
