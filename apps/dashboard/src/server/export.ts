/**
 * CSV and JSON exports: the runs table as filtered and sorted on the page (its URL parameters),
 * and one series of a run as stored (every point). Runs are capped at MAX_EXPORT_RUNS; a series
 * streams page by page, however long it is.
 */
import type { Run, RunFilter, RunOrderField, RunStatus, RunStore } from "@selfsup/store";
import { readState, toVariables } from "../lib/runs-view";
import { authConfigFromEnv, authenticate, cookieFromHeader, SESSION_COOKIE } from "./auth";
import { getStore, noteStoreError } from "./store";

export const MAX_EXPORT_RUNS = 100_000;
const PAGE = 500;
const SERIES_PAGE = 10_000;

export type ExportFormat = "csv" | "json";

/** The caller may read (the same check as the GraphQL API); a Response when not. */
export function refuseUnauthenticated(request: Request): Response | null {
  const result = authenticate(
    {
      authorization: request.headers.get("authorization"),
      session: cookieFromHeader(request.headers.get("cookie"), SESSION_COOKIE),
    },
    authConfigFromEnv(),
  );
  return result.ok ? null : Response.json({ error: result.message }, { status: 401 });
}

export function formatOf(params: URLSearchParams): ExportFormat | Response {
  const f = params.get("format") ?? "csv";
  if (f === "csv" || f === "json") return f;
  return Response.json({ error: `format: must be csv or json (got ${JSON.stringify(f)})` }, { status: 400 });
}

/** The runs page's URL parameters as the store's filter and order (same meaning as the table). */
export function runsQueryOf(params: URLSearchParams): {
  filter: RunFilter;
  orderBy: { field: RunOrderField; direction: "asc" | "desc" };
} {
  const state = readState(params);
  const { filter: vars } = toVariables(state);
  const filter: RunFilter = {};
  for (const k of ["search", "method", "family", "dataset", "backbone", "tag"] as const) {
    if (typeof vars[k] === "string") filter[k] = vars[k] as string;
  }
  if (state.status.length) filter.status = state.status.map((s) => s.toLowerCase() as RunStatus);
  if (typeof vars.createdAfter === "string") filter.createdFrom = vars.createdAfter;
  if (typeof vars.createdBefore === "string") filter.createdTo = vars.createdBefore;
  const field = (
    state.sort.startsWith("summary:") ||
    ["created_at", "name", "started_at", "finished_at"].includes(state.sort)
      ? state.sort
      : "created_at"
  ) as RunOrderField;
  return { filter, orderBy: { field, direction: state.dir } };
}

/** A CSV field: quoted when it holds a comma, quote or line break; formulas defused. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return "";
  let s = v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v);
  // A spreadsheet would run a cell starting with = + - @ as a formula: prefix a quote (numbers pass).
  if (/^[=+\-@\t\r]/.test(s) && !/^-?\d/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const RUN_FIELDS = [
  "id",
  "name",
  "method",
  "family",
  "dataset",
  "backbone",
  "backend",
  "host",
  "status",
  "tags",
  "createdAt",
  "startedAt",
  "finishedAt",
] as const;

/** Runs as CSV: the run fields, one column per summary key (`summary.<key>`), then the config as JSON. */
export function runsCsv(runs: readonly Run[]): string {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.summary)))].sort();
  const head = [...RUN_FIELDS, ...keys.map((k) => `summary.${k}`), "config"];
  const lines = [head.map(csvField).join(",")];
  for (const r of runs) {
    lines.push(
      [
        ...RUN_FIELDS.map((f) => (f === "tags" ? r.tags.join(";") : r[f])),
        ...keys.map((k) => r.summary[k]),
        r.config,
      ]
        .map(csvField)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}

/** Up to MAX_EXPORT_RUNS runs of the query, by keyset pages; `truncated` when there were more. */
export async function collectRuns(
  store: RunStore,
  query: ReturnType<typeof runsQueryOf>,
): Promise<{ runs: Run[]; truncated: boolean }> {
  const runs: Run[] = [];
  let after: string | null = null;
  for (;;) {
    const page = await store.listRuns({ ...query, first: PAGE, after });
    runs.push(...page.runs);
    if (!page.pageInfo.hasNextPage) return { runs, truncated: false };
    if (runs.length >= MAX_EXPORT_RUNS) return { runs: runs.slice(0, MAX_EXPORT_RUNS), truncated: true };
    after = page.pageInfo.endCursor;
  }
}

/** One series as stored, streamed: CSV `step,wall_time,value` or a JSON array of points. */
export function seriesStream(
  store: RunStore,
  runId: string,
  key: string,
  format: ExportFormat,
): ReadableStream {
  const enc = new TextEncoder();
  let after: number | null = null;
  let started = false;
  let done = false;
  return new ReadableStream({
    async pull(controller) {
      if (done) return;
      if (!started) {
        started = true;
        controller.enqueue(enc.encode(format === "csv" ? "step,wall_time,value\r\n" : "["));
      }
      try {
        const points = await store.readPoints(runId, key, { afterStep: after, limit: SERIES_PAGE });
        const text =
          format === "csv"
            ? points.map((p) => `${p.step},${p.wallTime.toISOString()},${p.value}\r\n`).join("")
            : points
                .map(
                  (p, i) =>
                    `${after === null && i === 0 ? "" : ","}\n${JSON.stringify({ step: p.step, wallTime: p.wallTime, value: p.value })}`,
                )
                .join("");
        if (text) controller.enqueue(enc.encode(text));
        if (points.length < SERIES_PAGE) {
          done = true;
          if (format === "json") controller.enqueue(enc.encode("\n]\n"));
          controller.close();
        } else {
          after = points[points.length - 1].step;
        }
      } catch (err) {
        noteStoreError(err);
        controller.error(err);
      }
    },
  });
}

export function attachment(name: string, format: ExportFormat): Record<string, string> {
  return {
    "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
    "content-disposition": `attachment; filename="${name.replace(/[^\w.-]+/g, "_")}.${format}"`,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  };
}

/** The store, or a 503 naming why it cannot be opened. */
export async function storeOr503(): Promise<RunStore | Response> {
  try {
    return await getStore();
  } catch (err) {
    noteStoreError(err);
    return Response.json({ error: (err as Error).message }, { status: 503 });
  }
}
