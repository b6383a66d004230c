import { z } from "zod";
import { fromZodError } from "./errors.js";

/**
 * Input validation at the store's boundary. Every public method parses its input with one of
 * these, so a bad id, key, limit or date fails fast with a message naming the field, before any
 * SQL runs.
 */

export const RUN_STATUSES = ["queued", "running", "finished", "failed", "interrupted", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses a run can end in (finishRun). */
export const TERMINAL_STATUSES = ["finished", "failed", "interrupted", "cancelled"] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export const MAX_PAGE_SIZE = 500;
export const DEFAULT_PAGE_SIZE = 50;
export const MAX_POINTS = 10_000;
export const DEFAULT_MAX_POINTS = 1_000;
/** Largest artifact payload accepted (bytes or serialized JSON). */
export const MAX_ARTIFACT_BYTES = 32 * 1024 * 1024;

export const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** Metric / summary / evaluation-metric keys: `loss`, `train/loss`, `knn@1`, `lr:group0`. */
export const KEY_RE = /^[A-Za-z0-9_.:/@-]{1,128}$/;

export const idSchema = z.string().regex(ID_RE, "must be 1-64 characters of A-Z a-z 0-9 _ -");
export const keySchema = z.string().regex(KEY_RE, "must be 1-128 characters of A-Z a-z 0-9 _ . : / @ -");
/** PostgreSQL text cannot hold U+0000: refused here with a clear message instead of a driver error. */
const NO_NUL = [(s: string) => !s.includes("\u0000"), "must not contain a NUL character (\\u0000)"] as const;
/**
 * Control characters (C0, DEL, C1): in a name or tag printed to a terminal, ESC, CR and LF let
 * whoever shares the store rewrite a teammate's screen, so names and tags refuse them at write.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
export const CONTROL_CHARS_RE = /[\u0000-\u001f\u007f-\u009f]/;
/** The same, less tab and newline, which a multi-line note may hold. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_CHARS_IN_TEXT_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
export const NO_CONTROL_CHARS = "must not contain control characters (ESC, CR, LF, ...)";
const NO_CONTROL = [(s: string) => !CONTROL_CHARS_RE.test(s), NO_CONTROL_CHARS] as const;
const label = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(200)
  .refine(...NO_NUL)
  .refine(...NO_CONTROL);
const tag = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(64)
  .refine(...NO_NUL)
  .refine(...NO_CONTROL);
const text = z
  .string()
  .max(100_000)
  .refine(...NO_NUL);
/** An artifact's name (a file-like label; it appears in URLs): no NUL or other control characters. */
export const artifactNameSchema = z
  .string()
  .min(1, "must not be empty")
  .max(200)
  .refine(...NO_NUL)
  .refine(...NO_CONTROL);

/** A note: text without control characters other than tab and newline. */
const note = text.refine(
  (s) => !CONTROL_CHARS_IN_TEXT_RE.test(s),
  "must not contain control characters other than tab and newline",
);
const dateInput = z.union([z.date(), z.string(), z.number()]).pipe(z.coerce.date("must be a valid date"));
const step = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const statusSchema = z.enum(RUN_STATUSES);
export const terminalStatusSchema = z.enum(TERMINAL_STATUSES);

/** A JSON object that survives JSON.stringify (no functions, BigInts, cycles). */
const jsonObject = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  try {
    JSON.stringify(value);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `must be JSON-serializable (${(err as Error).message})` });
  }
});

export const summarySchema = z.record(keySchema, z.number());

/** Input of createRun. */
export const createRunSchema = z.strictObject({
  /** Defaults to a new ULID; pass one to make submission idempotent (a duplicate id is a conflict). */
  id: idSchema.optional(),
  /** Defaults to `<method>-<dataset>-<last 6 chars of id>`. */
  name: label.optional(),
  method: label,
  family: label.nullish(),
  backbone: label.nullish(),
  dataset: label.nullish(),
  backend: label.nullish(),
  host: label.nullish(),
  /** The validated run config, as JSON. */
  config: jsonObject.optional(),
  /** `queued` (default, for the job queue) or `running` (a local `selfsup train`). */
  status: z.enum(["queued", "running"]).optional(),
  tags: z.array(tag).max(100).optional(),
  notes: note.nullish(),
  summary: summarySchema.optional(),
  parentId: idSchema.nullish(),
  resumedFrom: idSchema.nullish(),
  /** Defaults to the database's now(); for imports and tests. */
  createdAt: dateInput.optional(),
});

export const startSchema = z.strictObject({
  host: label.nullish(),
  backend: label.nullish(),
});

/** Input of finishRun. */
export const finishSchema = z.strictObject({
  status: terminalStatusSchema,
  /** Merged into the existing summary (keys given here win). */
  summary: summarySchema.optional(),
  error: text.nullish(),
});

export const tagsSchema = z.array(tag).max(100);
export const tagSchema = tag;
export const noteSchema = note.nullable();

export const runFilterSchema = z.strictObject({
  method: label.optional(),
  family: label.optional(),
  dataset: label.optional(),
  backbone: label.optional(),
  /** Any of these statuses. */
  status: z.array(statusSchema).max(RUN_STATUSES.length).optional(),
  /** Runs carrying this tag. */
  tag: tag.optional(),
  /** Case-insensitive substring of name, method or notes (% and _ match literally). */
  search: z
    .string()
    .max(200)
    .refine(...NO_NUL)
    .optional(),
  /** created_at >= createdFrom */
  createdFrom: dateInput.optional(),
  /** created_at < createdTo */
  createdTo: dateInput.optional(),
});

/** `summary:<key>` sorts by a summary number; runs without that key come last in both directions. */
const orderField = z.union([
  z.enum(["created_at", "name", "started_at", "finished_at"]),
  z.templateLiteral(["summary:", z.string()]).refine((f) => KEY_RE.test(f.slice("summary:".length)), {
    message: "summary:<key> needs a key of 1-128 characters of A-Z a-z 0-9 _ . : / @ -",
  }),
]);

export const listRunsSchema = z.strictObject({
  filter: runFilterSchema.optional(),
  /**
   * Default: created_at desc (newest first). With orderBy but no direction: asc. Ties are broken
   * by id in the same direction.
   */
  orderBy: z
    .strictObject({
      field: orderField,
      direction: z.enum(["asc", "desc"]).optional(),
    })
    .optional(),
  /** Page size, 0..500, default 50. */
  first: z.number().int().min(0).max(MAX_PAGE_SIZE).optional(),
  /** endCursor of the previous page. */
  after: z.string().max(2000).nullish(),
});

export const metricPointSchema = z.strictObject({
  key: keySchema,
  /** Integer >= 0; (run, key, step) is unique, so writing a step again replaces its value. */
  step,
  /** Finite number. */
  value: z.number(),
  /** When the step happened; defaults to now. */
  wallTime: dateInput.optional(),
});
export const metricPointsSchema = z.array(metricPointSchema);

export const readSeriesSchema = z.strictObject({
  /** Upper bound on points per key, 2..10000, default 1000. */
  maxPoints: z.number().int().min(2).max(MAX_POINTS).optional(),
  /**
   * x is the step, the wall time in ms since the Unix epoch, or seconds since the run's first
   * metric point (`relative_time`, the same origin for every key of the run). Default step.
   */
  xAxis: z.enum(["step", "wall_time", "relative_time"]).optional(),
  /** Bucket value: the mean of the bucket (default) or its last point. min/max are always kept. */
  y: z.enum(["mean", "last"]).optional(),
  /** Only points with from <= x <= to (in the units of xAxis). */
  range: z
    .strictObject({ from: z.number().nullish(), to: z.number().nullish() })
    .refine((r) => r.from == null || r.to == null || r.from <= r.to, { message: "from must be <= to" })
    .optional(),
});
export const seriesKeysSchema = z.array(keySchema).min(1).max(50);

/** Input of readPoints (raw points of one key, in step order, a page at a time). */
export const readPointsSchema = z.strictObject({
  /** Only steps > afterStep (the last step of the previous page). */
  afterStep: step.nullish(),
  /** Page size, 1..100000, default 10000. */
  limit: z.number().int().min(1).max(100_000).optional(),
});

/** Config path segments for grouping: `optimizer.lr` -> ["optimizer", "lr"]. */
const configPath = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$/, "must be dotted keys like optimizer.lr");

/** Input of groupRuns. */
export const groupRunsSchema = z.strictObject({
  filter: runFilterSchema.optional(),
  /** A run column, or `config:<dotted.path>` for a config value. */
  by: z.union([
    z.enum(["method", "family", "dataset", "backbone", "backend", "status"]),
    z.templateLiteral(["config:", z.string()]).refine((b) => configPath.safeParse(b.slice(7)).success, {
      message: "config:<path> needs dotted keys like config:optimizer.lr",
    }),
  ]),
  /** The summary number aggregated per group. */
  metric: keySchema,
  /** Most groups returned (1..1000, default 200), largest mean first. */
  limit: z.number().int().min(1).max(1000).optional(),
});

export const evaluationSchema = z.strictObject({
  runId: idSchema,
  /** knn, linear, finetune, or a plugin evaluator's name. */
  protocol: keySchema,
  /** Labelled examples per class used; null/omitted = all labels. */
  labelsPerClass: z.number().int().min(1).nullish(),
  /** Default 0. */
  seed: z.number().int().min(-2147483648).max(2147483647).optional(),
  /** e.g. top1, top5. */
  metric: keySchema,
  value: z.number(),
});

export const checkpointSchema = z.strictObject({
  runId: idSchema,
  path: z.string().min(1).max(4096),
  step,
  checksum: z.string().max(256).nullish(),
  /** Default latest. */
  kind: z.enum(["latest", "best"]).optional(),
});

export const artifactSchema = z
  .strictObject({
    runId: idSchema,
    /** e.g. augment-preview, pca, reconstruction. */
    kind: keySchema,
    name: artifactNameSchema,
    mime: z
      .string()
      .regex(/^[\w.+-]+\/[\w.+-]+$/, "must be a MIME type like image/png")
      .max(100),
    step: step.nullish(),
    /** Binary payload (an image). Exactly one of bytes / data. */
    bytes: z.instanceof(Uint8Array).optional(),
    /** JSON payload (scatter points). Exactly one of bytes / data. */
    data: z.unknown().optional(),
  })
  .superRefine((a, ctx) => {
    if ((a.bytes === undefined) === (a.data === undefined)) {
      ctx.addIssue({ code: "custom", path: ["bytes"], message: "give exactly one of bytes or data" });
    }
    if (a.bytes !== undefined && a.bytes.byteLength > MAX_ARTIFACT_BYTES) {
      ctx.addIssue({
        code: "custom",
        path: ["bytes"],
        message: `must be at most ${MAX_ARTIFACT_BYTES} bytes`,
      });
    }
  });

export const leaderboardOptionsSchema = z.strictObject({
  /** Only this label budget; omitted = one entry per (method, label budget). null = all labels. */
  labelsPerClass: z.number().int().min(1).nullish(),
  /** For losses/errors. Default false (higher is better). */
  lowerIsBetter: z.boolean().optional(),
  /** Also count runs that did not finish. Default false. */
  includeUnfinished: z.boolean().optional(),
});

export const leaderboardSchema = leaderboardOptionsSchema.extend({
  dataset: label,
  protocol: keySchema,
  metric: keySchema,
});

export const olderThanSchema = z
  .number()
  .int()
  .min(1)
  .max(365 * 24 * 3600 * 1000);
export const stepSchema = step;

/** Parses `value` with `schema` or throws a StoreError naming the bad field(s), prefixed by `field`. */
export function parse<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  field?: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw fromZodError(what, result.error, field);
}
