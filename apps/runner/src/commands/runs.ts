/** `selfsup runs`: the run history as a table (or JSON), with the store's filters. */
import { RUN_STATUSES, type Run, type RunFilter, type RunOrderField, type RunStatus } from "@selfsup/store";
import { CliError, EXIT } from "../exit-codes.js";
import { fmtDuration, fmtNum } from "../progress/reporters.js";
import { openRunnerStore } from "../store.js";

export interface RunsOptions {
  status?: string[];
  method?: string;
  dataset?: string;
  tag?: string;
  search?: string;
  limit?: string;
  sort?: string;
  asc?: boolean;
  after?: string;
  json?: boolean;
}

function parseStatuses(values: string[] | undefined): RunStatus[] | undefined {
  if (!values || values.length === 0) return undefined;
  const out: RunStatus[] = [];
  for (const v of values.flatMap((s) => s.split(","))) {
    const s = v.trim();
    if (!(RUN_STATUSES as readonly string[]).includes(s)) {
      throw new CliError(
        `--status: unknown status ${JSON.stringify(s)}; allowed: ${RUN_STATUSES.join(", ")}`,
        EXIT.usage,
      );
    }
    out.push(s as RunStatus);
  }
  return out;
}

function parseSort(value: string | undefined): RunOrderField {
  if (value === undefined) return "created_at";
  const aliases: Record<string, RunOrderField> = {
    created: "created_at",
    created_at: "created_at",
    name: "name",
    started: "started_at",
    started_at: "started_at",
    finished: "finished_at",
    finished_at: "finished_at",
  };
  const alias = aliases[value];
  if (alias) return alias;
  if (/^summary:[A-Za-z0-9_.:/@-]{1,128}$/.test(value)) return value as RunOrderField;
  throw new CliError(
    `--sort: ${JSON.stringify(value)} is not sortable; use created, name, started, finished or summary:<key> (e.g. summary:knn_top1)`,
    EXIT.usage,
  );
}

function ago(d: Date | null): string {
  if (!d) return "-";
  return `${fmtDuration((Date.now() - d.getTime()) / 1000)} ago`;
}

function duration(r: Run): string {
  if (!r.startedAt) return "-";
  const end = r.finishedAt ?? (r.status === "running" ? new Date() : r.heartbeatAt);
  return end ? fmtDuration((end.getTime() - r.startedAt.getTime()) / 1000) : "-";
}

/**
 * A value from the store made safe for a terminal: control characters (ESC, CR, LF, ...) and the
 * Unicode line separators and bidirectional overrides are printed as escapes (`\x1b`, `\u202e`),
 * so a name written before names refused them cannot rewrite the screen.
 */
export function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Renders rows as an aligned text table (cells escaped with {@link printable}). */
export function table(headers: string[], cells: string[][]): string {
  const rows = cells.map((r) => r.map(printable));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function runRow(r: Run): string[] {
  const s = r.summary;
  const knn = s.knn_top1 ?? s["knn/top1"];
  return [
    r.id,
    r.name,
    r.status,
    r.method,
    r.dataset ?? "-",
    r.backbone ?? "-",
    s.steps !== undefined ? String(s.steps) : "-",
    s.loss !== undefined ? fmtNum(s.loss) : "-",
    knn !== undefined ? fmtNum(knn) : "-",
    ago(r.createdAt),
    duration(r),
    r.tags.join(","),
  ];
}

export async function runsCommand(opts: RunsOptions): Promise<number> {
  const status = parseStatuses(opts.status);
  const field = parseSort(opts.sort);
  const first = opts.limit === undefined ? 20 : Number(opts.limit);
  if (!Number.isInteger(first) || first < 1 || first > 500)
    throw new CliError(`--limit: must be an integer in 1..500 (got ${opts.limit})`, EXIT.usage);
  const filter: RunFilter = {
    ...(status ? { status } : {}),
    ...(opts.method ? { method: opts.method } : {}),
    ...(opts.dataset ? { dataset: opts.dataset } : {}),
    ...(opts.tag ? { tag: opts.tag } : {}),
    ...(opts.search ? { search: opts.search } : {}),
  };
  const store = await openRunnerStore();
  try {
    const page = await store.listRuns({
      filter,
      orderBy: { field, direction: opts.asc ? "asc" : "desc" },
      first,
      after: opts.after ?? null,
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(page, null, 2)}\n`);
      return EXIT.ok;
    }
    if (page.runs.length === 0) {
      process.stdout.write("no runs match\n");
      return EXIT.ok;
    }
    const headers = [
      "id",
      "name",
      "status",
      "method",
      "dataset",
      "backbone",
      "steps",
      "loss",
      "knn",
      "created",
      "took",
      "tags",
    ];
    process.stdout.write(`${table(headers, page.runs.map(runRow))}\n`);
    if (page.pageInfo.hasNextPage)
      process.stdout.write(`more: selfsup runs --after ${page.pageInfo.endCursor}\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
