import { StoreError } from "./errors.js";
import { ID_RE } from "./schemas.js";

/** A timestamp cursor value as the store writes it: ISO 8601 in UTC with up to microseconds. */
const TS_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$/;
const TIMESTAMP_FIELDS = new Set(["created_at", "started_at", "finished_at"]);

/**
 * Whether `v` can be the sort value of a row under `field`. Checked before any SQL sees it, so a
 * forged cursor is refused with the same clear error everywhere (listRuns, tRPC `list`, `selfsup
 * runs --after`, GraphQL) instead of reaching PostgreSQL as a bad cast.
 */
function valueFits(field: string, v: unknown): boolean {
  if (v === null) return true;
  if (field.startsWith("summary:")) return typeof v === "number" && Number.isFinite(v);
  if (field === "name") return typeof v === "string" && v.length <= 1_000 && !v.includes("\u0000");
  if (TIMESTAMP_FIELDS.has(field))
    return typeof v === "string" && TS_RE.test(v) && !Number.isNaN(Date.parse(v));
  return false;
}

/**
 * Keyset-pagination cursor: the last row's sort value and id, plus the ordering it belongs to
 * (so a cursor from another sort is refused instead of silently skipping rows). Opaque to callers:
 * base64url of a small JSON object.
 */
export interface CursorData {
  /** orderBy.field */
  f: string;
  /** orderBy.direction */
  d: "asc" | "desc";
  /** sort value of the last row: ISO timestamp (µs), text, number, or null (NULLs sort last) */
  v: string | number | null;
  /** id of the last row: the tie-breaker */
  id: string;
}

export function encodeCursor(c: CursorData): string {
  return Buffer.from(JSON.stringify(c), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string, field: string, direction: "asc" | "desc"): CursorData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new StoreError("invalid_input", "after: not a cursor returned by listRuns", "after");
  }
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    typeof (parsed as CursorData).f !== "string" ||
    typeof (parsed as CursorData).id !== "string" ||
    !["asc", "desc"].includes((parsed as CursorData).d) ||
    (!["string", "number"].includes(typeof (parsed as CursorData).v) && (parsed as CursorData).v !== null)
  ) {
    throw new StoreError("invalid_input", "after: not a cursor returned by listRuns", "after");
  }
  const c = parsed as CursorData;
  if (c.f !== field || c.d !== direction) {
    throw new StoreError(
      "invalid_input",
      `after: cursor was made for orderBy ${c.f} ${c.d}, not ${field} ${direction}`,
      "after",
    );
  }
  if (!ID_RE.test(c.id) || !valueFits(field, c.v)) {
    throw new StoreError("invalid_input", "after: not a cursor returned by listRuns", "after");
  }
  return c;
}
