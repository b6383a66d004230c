"use client";
/**
 * One run: facts, tags and note (editable with the team token), live charts of every metric
 * (polled every 3 s while the run is queued or running), evaluations, checkpoints, artifacts
 * (augmentation previews, PCA scatter), the files a skipBad dataset skipped, and the config.
 */
import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import type { RunDetail } from "../lib/api-types";
import { Chart } from "./Chart";
import { ChartControls, type ChartSettings, DEFAULT_SETTINGS, X_AXIS_ENUM } from "./ChartControls";
import { ConfigTable } from "./ConfigTable";
import { colorAt } from "./colors";
import { fmtBytes, fmtDate, fmtDuration, fmtNumber } from "./format";
import { useGql } from "./gql";
import { CancelButton, TagsAndNote } from "./RunActions";
import { RunDownloads } from "./RunDownloads";
import { Evaluations } from "./RunEvaluations";
import { Scatter } from "./Scatter";
import { StatusBadge } from "./StatusBadge";
import { useLiveSeries } from "./useLiveSeries";

const RUN_QUERY = `
query Run($id: ID!) {
  viewer { canMutate }
  run(id: $id) {
    id name method family dataset backbone backend host status error tags notes summary
    createdAt startedAt finishedAt heartbeatAt durationSeconds parentId resumedFrom config metricKeys
    evaluations { id protocol labelsPerClass seed metric value }
    checkpoints { id kind path step checksum createdAt }
    artifacts { id kind name mime step size url points { x y label } }
    skippedFiles(first: 200) { total files { file reason } }
  }
}`;

/** Loss first, then learning rate, accuracies, throughput, the rest alphabetically. */
function keyRank(k: string): number {
  const order = [
    /^(train\/)?loss$/,
    /loss/,
    /^lr|learning.?rate/,
    /knn|acc|top1|probe/,
    /images?.?(per|\/).?s|throughput|img.?s/,
  ];
  const i = order.findIndex((re) => re.test(k));
  return i < 0 ? order.length : i;
}

const LIVE = new Set(["QUEUED", "RUNNING"]);

export function RunView({ id }: { id: string }) {
  const detail = useGql<{ viewer: { canMutate: boolean }; run: RunDetail | null }>(RUN_QUERY, { id });
  const run = detail.data?.run;
  const live = run ? LIVE.has(run.status) : false;
  // While live, refresh the header (status, summary, evaluations) too.
  useEffect(() => {
    if (!live) return;
    const t = window.setInterval(() => document.visibilityState === "visible" && detail.refetch(), 5000);
    return () => window.clearInterval(t);
  }, [live, detail.refetch]);

  const [settings, setSettings] = useState<ChartSettings>(DEFAULT_SETTINGS);
  const keys = useMemo(
    () =>
      [...(run?.metricKeys ?? [])].sort((a, b) => keyRank(a) - keyRank(b) || a.localeCompare(b)).slice(0, 20),
    [run?.metricKeys],
  );
  const series = useLiveSeries(id, keys, X_AXIS_ENUM[settings.xAxis], live);

  if (detail.error && !run) {
    return (
      <div className="error-box" role="alert">
        {detail.error.message}
      </div>
    );
  }
  if (!detail.data) return <p className="muted">Loading run…</p>;
  if (!run) {
    return (
      <div className="notice">
        No run with id <span className="mono">{id}</span>. <Link href="/">Back to runs</Link>
      </div>
    );
  }
  const canMutate = detail.data.viewer.canMutate;
  const images = run.artifacts.filter((a) => a.url && a.mime.startsWith("image/"));
  const scatters = run.artifacts.filter((a) => a.points && a.points.length > 0);

  return (
    <article>
      <div className="run-head">
        <h1 className="mono" data-testid="run-name">
          {run.name}
        </h1>
        <StatusBadge status={run.status} />
        {live && <span className="muted">live · refreshing every 3 s</span>}
        <span className="grow" />
        <Link className="button" href={`/compare?ids=${encodeURIComponent(run.id)}`}>
          Compare with…
        </Link>
        {canMutate && LIVE.has(run.status) && <CancelButton id={run.id} onDone={detail.refetch} />}
      </div>
      {run.error && (
        <div className="error-box" role="alert">
          {run.error}
        </div>
      )}
      <dl className="facts">
        <Fact k="id" v={<span className="mono">{run.id}</span>} />
        <Fact k="method" v={run.method} />
        <Fact k="family" v={run.family} />
        <Fact k="dataset" v={run.dataset} />
        <Fact k="backbone" v={run.backbone} />
        <Fact k="backend" v={run.backend} />
        <Fact k="host" v={run.host} />
        <Fact k="created" v={fmtDate(run.createdAt)} />
        <Fact k="started" v={fmtDate(run.startedAt)} />
        <Fact k="finished" v={fmtDate(run.finishedAt)} />
        <Fact k="duration" v={fmtDuration(run.durationSeconds)} />
        {run.resumedFrom && (
          <Fact k="resumed from" v={<Link href={`/runs/${run.resumedFrom}`}>{run.resumedFrom}</Link>} />
        )}
        {run.parentId && <Fact k="parent" v={<Link href={`/runs/${run.parentId}`}>{run.parentId}</Link>} />}
        {Object.entries(run.summary).map(([k, v]) => (
          <Fact key={k} k={k} v={<span className="mono">{fmtNumber(v, 5)}</span>} />
        ))}
      </dl>

      <TagsAndNote run={run} canMutate={canMutate} onChange={detail.refetch} />

      <h2>Curves</h2>
      <ChartControls value={settings} onChange={setSettings} />
      {keys.length === 0 ? (
        <p className="notice">This run has no metric points yet.</p>
      ) : (
        <div className="charts">
          {keys.map((k) => {
            const s = series.series?.find((x) => x.key === k);
            return (
              <section className="chart-card" key={k} aria-label={`Chart of ${k}`}>
                <header>
                  <h3>{k}</h3>
                  <span className="note">
                    <a
                      href={`/api/export/runs/${encodeURIComponent(run.id)}/series?key=${encodeURIComponent(k)}&format=csv`}
                      download
                      data-testid="export-series-csv"
                    >
                      CSV
                    </a>{" "}
                    <a
                      href={`/api/export/runs/${encodeURIComponent(run.id)}/series?key=${encodeURIComponent(k)}&format=json`}
                      download
                      data-testid="export-series-json"
                    >
                      JSON
                    </a>
                  </span>
                  <span className="note">
                    {s
                      ? `${s.points.length.toLocaleString("en-US")} ${s.downsampled ? `buckets of ${s.total.toLocaleString("en-US")} points` : "points"}`
                      : "loading…"}
                  </span>
                </header>
                {s && (
                  <Chart
                    label={k}
                    xAxis={settings.xAxis}
                    smoothing={settings.smoothing}
                    logY={settings.logY}
                    band={settings.band}
                    series={[
                      {
                        label: k,
                        color: colorAt(0),
                        xs: s.points.map((p) => p.x),
                        ys: s.points.map((p) => p.y),
                        mins: s.points.map((p) => p.min),
                        maxs: s.points.map((p) => p.max),
                      },
                    ]}
                  />
                )}
              </section>
            );
          })}
        </div>
      )}
      {series.error && (
        <div className="error-box" role="alert">
          {series.error.message}
        </div>
      )}

      <div className="section-grid">
        <section>
          <h2>Evaluations</h2>
          <Evaluations rows={run.evaluations} />
        </section>
        <section>
          <h2>Checkpoints</h2>
          {run.checkpoints.length === 0 ? (
            <p className="muted">None.</p>
          ) : (
            <div className="table-wrap">
              <table className="data">
                <thead>
                  <tr>
                    <th>kind</th>
                    <th className="num">step</th>
                    <th>path</th>
                    <th>checksum</th>
                    <th>written</th>
                  </tr>
                </thead>
                <tbody>
                  {run.checkpoints.map((c) => (
                    <tr key={c.id}>
                      <td>{c.kind}</td>
                      <td className="num">{c.step.toLocaleString("en-US")}</td>
                      <td className="mono">{c.path}</td>
                      <td className="mono" title={c.checksum ?? ""}>
                        {c.checksum?.slice(0, 12) ?? ""}
                      </td>
                      <td>{fmtDate(c.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      </div>

      <RunDownloads runId={run.id} checkpoints={run.checkpoints.length} />
      {(images.length > 0 || scatters.length > 0) && (
        <>
          <h2>Artifacts</h2>
          <div className="section-grid">
            {images.map((a) => (
              <figure className="artifact" key={a.id}>
                {/* biome-ignore lint/performance/noImgElement: artifacts are served by our API, not optimizable */}
                <img src={a.url!} alt={`${a.kind} ${a.name}`} data-testid="artifact-image" />
                <figcaption>
                  {a.kind} · {a.name}
                  {a.step !== null ? ` · step ${a.step}` : ""} · {fmtBytes(a.size)}
                </figcaption>
              </figure>
            ))}
            {scatters.map((a) => (
              <figure className="artifact" key={a.id}>
                <Scatter points={a.points!} title={`${a.kind} ${a.name}`} />
                <figcaption>
                  {a.kind} · {a.name}
                  {a.step !== null ? ` · step ${a.step}` : ""} · coloured by label
                </figcaption>
              </figure>
            ))}
          </div>
        </>
      )}

      {run.skippedFiles && run.skippedFiles.total > 0 && (
        <section data-testid="skipped-files">
          <h2>Skipped files ({fmtNumber(run.skippedFiles.total)})</h2>
          <p className="muted">
            Bad files the dataset left out or replaced (skipBad)
            {run.skippedFiles.files.length < run.skippedFiles.total
              ? `; the first ${run.skippedFiles.files.length} are listed, all are in the skipped-files.json artifact`
              : ""}
            .
          </p>
          <div className="table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th>file</th>
                  <th>reason</th>
                </tr>
              </thead>
              <tbody>
                {run.skippedFiles.files.map((f, i) => (
                  // the same file can be listed twice (found bad at load and again while training)
                  // biome-ignore lint/suspicious/noArrayIndexKey: rows are never reordered
                  <tr key={i}>
                    <td className="mono">{f.file}</td>
                    <td>{f.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}

      <h2>Config</h2>
      <ConfigTable config={run.config} />
    </article>
  );
}

function Fact({ k, v }: { k: string; v: React.ReactNode }) {
  if (v === null || v === undefined || v === "") return null;
  return (
    <div>
      <dt>{k}</dt>
      <dd>{v}</dd>
    </div>
  );
}
