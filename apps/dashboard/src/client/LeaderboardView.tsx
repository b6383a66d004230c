"use client";
/**
 * Best run per method on a dataset, for one evaluation protocol and metric, grouped by label
 * budget (labelled examples per class). The scope lives in the URL.
 */
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect, useMemo } from "react";
import type { LeaderboardEntry as Entry, LeaderboardScope as Scope } from "../lib/api-types";
import { fmtNumber } from "./format";
import { useGql } from "./gql";

const SCOPES = "query Scopes { leaderboardScopes { dataset protocol metric labelsPerClass runs } }";
const BOARD = `
query Board($dataset: String!, $protocol: String!, $metric: String, $lower: Boolean) {
  leaderboard(dataset: $dataset, protocol: $protocol, metric: $metric, lowerIsBetter: $lower) {
    rank method family labelsPerClass value std seeds backbone run { id name createdAt }
  }
}`;

export function LeaderboardView() {
  const router = useRouter();
  const pathname = usePathname();
  const params = useSearchParams();
  const scopes = useGql<{ leaderboardScopes: Scope[] }>(SCOPES, undefined);
  const list = scopes.data?.leaderboardScopes ?? [];
  const dataset = params.get("dataset") ?? "";
  const protocol = params.get("protocol") ?? "";
  const metric = params.get("metric") ?? "";
  const lower = params.get("lower") === "1";

  const set = useCallback(
    (patch: Record<string, string | null>) => {
      const next = new URLSearchParams(params.toString());
      for (const [k, v] of Object.entries(patch)) {
        if (v === null || v === "") next.delete(k);
        else next.set(k, v);
      }
      router.replace(`${pathname}?${next.toString()}`, { scroll: false });
    },
    [params, pathname, router],
  );

  // Default to the first scope that has data.
  const firstScope = list[0];
  useEffect(() => {
    if (!dataset && firstScope) {
      set({ dataset: firstScope.dataset, protocol: firstScope.protocol, metric: firstScope.metric });
    }
  }, [dataset, firstScope, set]);

  const datasets = useMemo(() => [...new Set(list.map((s) => s.dataset))], [list]);
  const protocols = useMemo(
    () => [...new Set(list.filter((s) => s.dataset === dataset).map((s) => s.protocol))],
    [list, dataset],
  );
  const metrics = useMemo(
    () => [
      ...new Set(list.filter((s) => s.dataset === dataset && s.protocol === protocol).map((s) => s.metric)),
    ],
    [list, dataset, protocol],
  );

  const board = useGql<{ leaderboard: Entry[] }>(
    BOARD,
    { dataset, protocol, metric: metric || "top1", lower },
    { skip: !dataset || !protocol },
  );
  const entries = board.data?.leaderboard ?? [];
  const budgets = [...new Set(entries.map((e) => e.labelsPerClass))];

  return (
    <section aria-label="Leaderboard">
      <div className="toolbar">
        <h1 style={{ margin: 0 }}>Leaderboard</h1>
        <span className="grow" />
        <label className="inline">
          dataset
          <select
            value={dataset}
            onChange={(e) => set({ dataset: e.target.value, protocol: null, metric: null })}
          >
            {datasets.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </label>
        <label className="inline">
          protocol
          <select value={protocol} onChange={(e) => set({ protocol: e.target.value, metric: null })}>
            {protocols.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label className="inline">
          metric
          <select value={metric} onChange={(e) => set({ metric: e.target.value })}>
            {metrics.map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={lower}
            onChange={(e) => set({ lower: e.target.checked ? "1" : null })}
          />
          lower is better
        </label>
      </div>
      {scopes.data && list.length === 0 && (
        <p className="notice">
          No evaluations yet. Finished runs with kNN / linear-probe results appear here.
        </p>
      )}
      {(board.error || scopes.error) && (
        <div className="error-box" role="alert">
          {(board.error ?? scopes.error)?.message}
        </div>
      )}
      {budgets.map((b) => (
        <section key={String(b)}>
          <h2>{b === null ? "All labels" : `${b} label${b === 1 ? "" : "s"} per class`}</h2>
          <div className="table-wrap">
            <table className="data" data-testid="leaderboard">
              <thead>
                <tr>
                  <th className="num">#</th>
                  <th>method</th>
                  <th>family</th>
                  <th className="num">{metric || "value"}</th>
                  <th className="num">seeds</th>
                  <th>backbone</th>
                  <th>best run</th>
                </tr>
              </thead>
              <tbody>
                {entries
                  .filter((e) => e.labelsPerClass === b)
                  .map((e) => (
                    <tr key={e.method}>
                      <td className="num">{e.rank}</td>
                      <td>{e.method}</td>
                      <td>{e.family ?? ""}</td>
                      <td className={`num mono${e.rank === 1 ? " best" : ""}`}>
                        {fmtNumber(e.value, 4)}
                        {e.std !== null ? ` ± ${fmtNumber(e.std, 2)}` : ""}
                      </td>
                      <td className="num">{e.seeds}</td>
                      <td>{e.backbone ?? ""}</td>
                      <td>
                        <Link href={`/runs/${encodeURIComponent(e.run.id)}`}>{e.run.name}</Link>
                      </td>
                    </tr>
                  ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
    </section>
  );
}
