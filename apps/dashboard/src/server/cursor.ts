/**
 * Per-edge cursors for the runs connection. The store pages by keyset and hands out one cursor per
 * page (after its last row). A Relay edge needs its own, so an edge cursor is "the store cursor
 * the page started from, plus how many rows of it to skip": resuming from edge i of a page asks
 * the store for `first + i + 1` rows after that cursor and drops the first i + 1. The skip is
 * below the page size, so the cost stays bounded. The last edge uses the store's own cursor
 * (skip 0), which is what clients usually pass.
 */
import { badInput } from "./limits";

export interface Position {
  /** The store's cursor (null: the start). */
  after: string | null;
  skip: number;
}

export function encodePosition(p: Position): string {
  return Buffer.from(JSON.stringify([p.after, p.skip]), "utf8").toString("base64url");
}

export function decodePosition(cursor: string, maxSkip: number): Position {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = null;
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    !(parsed[0] === null || typeof parsed[0] === "string") ||
    !Number.isInteger(parsed[1]) ||
    parsed[1] < 0 ||
    parsed[1] > maxSkip
  ) {
    throw badInput("after: not a cursor returned by runs (take endCursor or an edge's cursor)", "after");
  }
  return { after: parsed[0], skip: parsed[1] };
}
