"use client";
/**
 * The runs table grouped: one row per method / dataset / config value (the `group` URL parameter),
 * with the mean ± std, min and max of a summary number (`gmetric`) over the group's runs, e.g.
 * the seeds of one setting side by side. Same filters as the table.
 */
import type { RunGroup } from "../lib/api-types";
import { fmtNumber } from "./format";
import { useGql } from "./gql";

const GROUPS_QUERY = `
query RunGroups($filter: RunFilter, $by: String!, $metric: String!) {
  runGroups(filter: $filter, by: $by, metric: $metric) { value runs n mean std min max }
}`;

export const GROUP_BY = ["method", "family", "dataset", "backbone", "backend", "status"] as const;

export function RunGroups({
  filter,
  by,
  metric,
}: {
  filter: Record<string, unknown>;
  by: string;
  metric: string;
}) {
  const { data, error, loading } = useGql<{ runGroups: RunGroup[] }>(GROUPS_QUERY, { filter, by, metric });
  const label = by.startsWith("config:") ? by.slice(7) : by;
  return (
    <section aria-label="Run groups" data-testid="run-groups">
      {error && (
        <div className="error-box" role="alert">
          {error.message}
        </div>
      )}
      <table className="table">
        <caption className="note" style={{ textAlign: "left" }}>
          {metric} by {label}
          {loading ? " · loading…" : ""}
        </caption>
        <thead>
          <tr>
            <th scope="col">{label}</th>
            <th scope="col" className="num">
              runs
            </th>
            <th scope="col" className="num">
              {metric} mean ± std
            </th>
            <th scope="col" className="num">
              min
            </th>
            <th scope="col" className="num">
              max
            </th>
          </tr>
        </thead>
        <tbody>
          {(data?.runGroups ?? []).map((g) => (
            <tr key={g.value ?? "\u0000"} data-group={g.value ?? ""}>
              <th scope="row">{g.value ?? <span className="muted">(none)</span>}</th>
              <td className="num">
                {g.runs.toLocaleString("en-US")}
                {g.n !== g.runs && (
                  <span className="muted">
                    {" "}
                    ({g.n} with {metric})
                  </span>
                )}
              </td>
              <td className="num mono" data-testid="group-mean">
                {g.mean === null ? "" : fmtNumber(g.mean, 4)}
                {g.std !== null && ` ± ${fmtNumber(g.std, 3)}`}
              </td>
              <td className="num mono">{fmtNumber(g.min, 4)}</td>
              <td className="num mono">{fmtNumber(g.max, 4)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
