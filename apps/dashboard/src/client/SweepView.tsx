"use client";
/**
 * The sweep page: summary, best configuration ("copy as config", "queue again with more epochs"),
 * parallel coordinates of parameters -> metric (brush to filter the table), the metric against
 * each parameter, parameter importance, learning curves of the best configurations (mean ± std
 * over seeds) and the trials table. Polls while the sweep runs.
 */
import Link from "next/link";
import { useMemo, useState } from "react";
import { gql, useGql } from "./gql";
import { ParallelCoords, type PcAxis } from "./ParallelCoords";
import { ParamScatter } from "./ParamScatter";
import { SweepCurves } from "./SweepCurves";

const QUERY = `query Sweep($id: ID!) {
  viewer { canMutate }
  sweep(id: $id) {
    id name status search metric goal mode error createdAt finishedAt tag plannedTrials seeds
    counts { status count }
    parameters { path kind values low high }
    importance { path spearman variance n }
    best { idx params value valueStd config }
    curves(top: 5) { trial params value epochs mean std }
    trials { idx params status value valueStd epochs prunedAt error runs { id seed status } }
  }
}`;

const SUBMIT = "mutation Submit($input: SubmitRunInput!) { submitRun(input: $input) { id run { name } } }";

interface Trial {
  idx: number;
  params: Record<string, unknown>;
  status: string;
  value: number | null;
  valueStd: number | null;
  epochs: number | null;
  prunedAt: number | null;
  error: string | null;
  runs: Array<{ id: string; seed: number; status: string }>;
}

interface SweepData {
  viewer: { canMutate: boolean };
  sweep: {
    id: string;
    name: string;
    status: string;
    search: string;
    metric: string;
    goal: string;
    mode: string;
    error: string | null;
    tag: string;
    plannedTrials: number;
    seeds: number;
    counts: Array<{ status: string; count: number }>;
    parameters: Array<{
      path: string;
      kind: string;
      values: unknown[] | null;
      low: number | null;
      high: number | null;
    }>;
    importance: Array<{ path: string; spearman: number | null; variance: number | null; n: number }>;
    best: {
      idx: number;
      params: Record<string, unknown>;
      value: number;
      valueStd: number | null;
      config: Record<string, unknown> | null;
    } | null;
    curves: Array<{
      trial: number;
      params: Record<string, unknown>;
      value: number | null;
      epochs: number[];
      mean: number[];
      std: number[];
    }>;
    trials: Trial[];
  } | null;
}

const short = (path: string) => path.split(".").at(-1) ?? path;
function fmtValue(v: unknown): string {
  if (typeof v === "number")
    return Number.isInteger(v) ? String(v) : Math.abs(v) < 0.01 ? v.toExponential(2) : v.toPrecision(3);
  return JSON.stringify(v);
}
const fmtParams = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(([k, v]) => `${short(k)}=${fmtValue(v)}`)
    .join(" ");

function BestConfig({ sweep, canMutate }: { sweep: NonNullable<SweepData["sweep"]>; canMutate: boolean }) {
  const best = sweep.best;
  const [copied, setCopied] = useState(false);
  const epochs = Number((best?.config?.training as { epochs?: number } | undefined)?.epochs ?? 1);
  const [more, setMore] = useState(String(epochs * 3));
  const [queued, setQueued] = useState<string>();
  const [error, setError] = useState<string>();
  if (!best) return <p className="muted">No completed trial yet.</p>;
  const configText = JSON.stringify({ ...(best.config ?? {}), name: undefined, tags: undefined }, null, 2);
  return (
    <section className="sweep-best" data-best={best.idx}>
      <h2>Best configuration</h2>
      <p>
        Trial {best.idx}:{" "}
        <strong>
          {sweep.metric} {best.value.toFixed(4)}
        </strong>
        {best.valueStd ? ` ± ${best.valueStd.toFixed(4)} over ${sweep.seeds} seeds` : ""} —{" "}
        {fmtParams(best.params)}
      </p>
      <div className="row">
        <button
          type="button"
          data-action="copy-config"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(configText);
            } catch {
              // clipboard refused (no permission): the text is shown below to copy by hand
            }
            setCopied(true);
          }}
        >
          {copied ? "Copied" : "Copy as config"}
        </button>
        {canMutate ? (
          <>
            <label>
              epochs{" "}
              <input
                value={more}
                onChange={(e) => setMore(e.target.value)}
                size={4}
                aria-label="epochs for the new run"
              />
            </label>
            <button
              type="button"
              data-action="queue-again"
              onClick={async () => {
                setError(undefined);
                try {
                  const cfg = JSON.parse(configText) as Record<string, unknown>;
                  cfg.training = {
                    ...((cfg.training as Record<string, unknown>) ?? {}),
                    epochs: Number(more),
                  };
                  const r = await gql<{ submitRun: { id: string } }>(SUBMIT, {
                    input: {
                      config: cfg,
                      name: `${sweep.name}-best-${more}ep`,
                      tags: [sweep.tag, "sweep-best"],
                    },
                  });
                  setQueued(r.submitRun.id);
                } catch (err) {
                  setError((err as Error).message);
                }
              }}
            >
              Queue again with more epochs
            </button>
          </>
        ) : null}
      </div>
      {queued ? (
        <p>
          Queued <Link href={`/runs/${queued}`}>{queued}</Link>
        </p>
      ) : null}
      {error ? <p className="error">{error}</p> : null}
      {copied ? <pre className="config-text">{configText}</pre> : null}
    </section>
  );
}

export function SweepView({ id }: { id: string }) {
  const q = useGql<SweepData>(QUERY, { id }, { pollMs: 5000 });
  const [brushed, setBrushed] = useState<number[] | null>(null);
  const sweep = q.data?.sweep;
  const axes: PcAxis[] = useMemo(
    () =>
      (sweep?.parameters ?? []).map((p) => ({
        key: p.path,
        label: short(p.path),
        kind: p.kind,
        ...(Array.isArray(p.values) ? { values: p.values } : {}),
        log: p.kind === "log_uniform",
      })),
    [sweep?.parameters],
  );
  if (q.error && !q.data) return <p className="error">{q.error.message}</p>;
  if (!q.data) return <p className="muted">Loading…</p>;
  if (!sweep) return <p className="error">No sweep {id}.</p>;
  const scored = sweep.trials.filter((t) => t.value !== null);
  const shown = brushed ? new Set(brushed) : null;
  const rows = shown ? sweep.trials.filter((t) => shown.has(t.idx)) : sweep.trials;
  return (
    <div className="sweep-page" data-sweep={sweep.id} data-status={sweep.status}>
      <h1>
        Sweep {sweep.name} <span className={`status status-${sweep.status}`}>{sweep.status}</span>
      </h1>
      <p className="muted">
        {sweep.search} search on {sweep.metric} ({sweep.goal}), {sweep.plannedTrials} configurations ×{" "}
        {sweep.seeds} seed(s), {sweep.mode === "queue" ? "on workers" : "local processes"} ·{" "}
        {sweep.counts.map((c) => `${c.count} ${c.status}`).join(", ")} ·{" "}
        <Link href={`/?tag=${encodeURIComponent(sweep.tag)}`}>its runs</Link>
      </p>
      {sweep.error ? <p className="error">{sweep.error}</p> : null}
      <BestConfig sweep={sweep} canMutate={q.data.viewer.canMutate} />
      <section>
        <h2>Parameters → {sweep.metric}</h2>
        <ParallelCoords
          axes={axes}
          trials={scored}
          metric={sweep.metric}
          goal={sweep.goal}
          onBrush={setBrushed}
        />
        <div className="scatter-row">
          {sweep.parameters.map((p) => (
            <ParamScatter
              key={p.path}
              label={short(p.path)}
              log={p.kind === "log_uniform"}
              {...(Array.isArray(p.values) ? { categories: p.values } : {})}
              highlight={shown}
              points={scored.map((t) => ({
                idx: t.idx,
                x: t.params[p.path],
                y: t.value as number,
                pruned: t.status === "pruned",
              }))}
            />
          ))}
        </div>
      </section>
      <section>
        <h2>Parameter importance</h2>
        <p className="muted">
          Spearman: rank correlation with {sweep.metric}. Variance share: η², the part of the metric's
          variance the parameter explains alone (fANOVA's main effect, estimated by grouping the trials by
          value or quartile).
        </p>
        <table className="sweep-table importance">
          <thead>
            <tr>
              <th>parameter</th>
              <th>Spearman</th>
              <th>variance share</th>
              <th>trials</th>
            </tr>
          </thead>
          <tbody>
            {sweep.importance.map((p) => (
              <tr key={p.path} data-param={p.path}>
                <td>{p.path}</td>
                <td className="num">{p.spearman === null ? "—" : p.spearman.toFixed(2)}</td>
                <td className="num">
                  {p.variance === null ? (
                    "—"
                  ) : (
                    <span
                      className="bar"
                      style={{
                        display: "inline-block",
                        width: `${Math.round(p.variance * 120)}px`,
                        background: "var(--accent)",
                        height: 8,
                        marginRight: 6,
                      }}
                    />
                  )}
                  {p.variance === null ? "" : `${(p.variance * 100).toFixed(0)}%`}
                </td>
                <td className="num">{p.n}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section>
        <h2>Learning curves of the best configurations</h2>
        <SweepCurves
          metric={sweep.metric}
          curves={sweep.curves.map((c) => ({
            trial: c.trial,
            label: `trial ${c.trial}`,
            epochs: c.epochs,
            mean: c.mean,
            std: c.std,
          }))}
        />
      </section>
      <section>
        <h2>Trials{brushed ? ` (${rows.length} of ${sweep.trials.length} in the brushed ranges)` : ""}</h2>
        <table className="sweep-table trials" data-rows={rows.length}>
          <thead>
            <tr>
              <th>#</th>
              {sweep.parameters.map((p) => (
                <th key={p.path}>{short(p.path)}</th>
              ))}
              <th>status</th>
              <th>{sweep.metric}</th>
              <th>epochs</th>
              <th>runs</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t.idx} data-trial={t.idx} data-status={t.status}>
                <td>{t.idx}</td>
                {sweep.parameters.map((p) => (
                  <td key={p.path}>{fmtValue(t.params[p.path])}</td>
                ))}
                <td title={t.error ?? undefined}>
                  {t.status}
                  {t.prunedAt ? ` @${t.prunedAt}` : ""}
                </td>
                <td
                  className="num"
                  title={
                    t.status === "pruned" && t.value !== null
                      ? `pruned: the value at epoch ${t.epochs ?? t.prunedAt ?? "?"}, where it stopped, not after the full budget`
                      : undefined
                  }
                >
                  {t.value === null ? "—" : t.value.toFixed(4)}
                  {t.valueStd ? ` ± ${t.valueStd.toFixed(4)}` : ""}
                  {t.status === "pruned" && t.value !== null
                    ? ` (epoch ${t.epochs ?? t.prunedAt ?? "?"})`
                    : ""}
                </td>
                <td className="num">{t.epochs ?? "—"}</td>
                <td>
                  {t.runs.map((r) => (
                    <Link
                      key={r.id}
                      href={`/runs/${r.id}`}
                      title={`seed ${r.seed}: ${r.status.toLowerCase()}`}
                    >
                      s{r.seed}{" "}
                    </Link>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}

const LIST = `query Sweeps { sweeps(first: 100) { id name status search metric goal mode plannedTrials seeds createdAt counts { status count } best { value } } }`;

export function SweepsList() {
  const q = useGql<{
    sweeps: Array<{
      id: string;
      name: string;
      status: string;
      search: string;
      metric: string;
      goal: string;
      mode: string;
      plannedTrials: number;
      seeds: number;
      createdAt: string;
      counts: Array<{ status: string; count: number }>;
      best: { value: number } | null;
    }>;
  }>(LIST, {}, { pollMs: 10000 });
  if (q.error && !q.data) return <p className="error">{q.error.message}</p>;
  if (!q.data) return <p className="muted">Loading…</p>;
  if (q.data.sweeps.length === 0)
    return (
      <p className="muted">
        No sweeps yet. Start one with <code>selfsup sweep sweep.yaml</code>.
      </p>
    );
  return (
    <div>
      <h1>Sweeps</h1>
      <table className="sweep-table sweeps" data-rows={q.data.sweeps.length}>
        <thead>
          <tr>
            <th>name</th>
            <th>status</th>
            <th>search</th>
            <th>metric</th>
            <th>trials</th>
            <th>best</th>
            <th>created</th>
          </tr>
        </thead>
        <tbody>
          {q.data.sweeps.map((s) => (
            <tr key={s.id} data-sweep={s.name}>
              <td>
                <Link href={`/sweeps/${s.id}`}>{s.name}</Link>
              </td>
              <td>{s.status}</td>
              <td>{s.search}</td>
              <td>
                {s.metric} ({s.goal})
              </td>
              <td>
                {s.counts.reduce((a, c) => a + c.count, 0)}/{s.plannedTrials} × {s.seeds} ·{" "}
                {s.counts.map((c) => `${c.count} ${c.status}`).join(", ")}
              </td>
              <td className="num">{s.best ? s.best.value.toFixed(4) : "—"}</td>
              <td>{new Date(s.createdAt).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
