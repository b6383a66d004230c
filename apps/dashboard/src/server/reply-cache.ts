/**
 * A short-lived cache of whole GraphQL replies to read-only queries, with in-flight coalescing.
 *
 * A team dashboard is many people (and browser tabs polling) asking the same few queries, and the
 * embedded store answers one query at a time: 50 clients asking for the runs page meant 50 store
 * round trips queued behind each other. Identical requests (same credentials, same query text and
 * variables) now share one execution while it runs and reuse its reply for `SELFSUP_QUERY_CACHE_MS`
 * (default 1000 ms; 0 turns the cache off), so the store sees about one query per distinct request
 * per second, whatever the number of clients. Only successful replies (200, no `errors`) to `query`
 * operations are kept; mutations and subscriptions always execute. The staleness is bounded by the
 * TTL: a list can lag the store by at most a second (writes by other processes, e.g. a training
 * run); a mutation through this dashboard clears the cache, so its own edits show at once.
 */
import { createHash } from "node:crypto";
import { type DocumentNode, Kind, parse } from "graphql";

export interface Reply {
  status: number;
  body: string;
  headers: Array<[string, string]>;
}

const MAX_ENTRIES = 500;
/** Replies larger than this are not kept (they are rare and would crowd the rest out). */
const MAX_BODY_CHARS = 1 << 20;

export function replyCacheTtlMs(env: Record<string, string | undefined> = process.env): number {
  const v = Number(env.SELFSUP_QUERY_CACHE_MS ?? 1000);
  return Number.isFinite(v) && v >= 0 ? v : 1000;
}

const kinds = new Map<string, "query" | "other">();

/** Whether `query` (with `operationName`) is a read-only `query` operation (parsed once per text). */
export function isReadOnlyQuery(query: string, operationName: string | undefined): boolean {
  const memo = `${operationName ?? ""}\u0000${query}`;
  let kind = kinds.get(memo);
  if (kind === undefined) {
    let doc: DocumentNode;
    try {
      doc = parse(query);
    } catch {
      return false; // Apollo reports the syntax error
    }
    const ops = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
    const op = operationName
      ? ops.find((d) => d.name?.value === operationName)
      : ops.length === 1
        ? ops[0]
        : undefined;
    kind = op?.operation === "query" ? "query" : "other";
    if (kinds.size > MAX_ENTRIES) kinds.clear();
    kinds.set(memo, kind);
  }
  return kind === "query";
}

interface Entry {
  at: number;
  reply: Promise<Reply>;
}

export class ReplyCache {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly ttlMs: () => number = replyCacheTtlMs) {}

  /** The key of a request: who asks (credentials) and exactly what. */
  static key(credentials: string, body: string): string {
    return createHash("sha256").update(credentials).update("\u0000").update(body).digest("base64url");
  }

  /** A fresh cached or in-flight reply for `key`, else `compute()` (shared with concurrent callers). */
  get(key: string, compute: () => Promise<Reply>): Promise<Reply> {
    const ttl = this.ttlMs();
    if (ttl <= 0) return compute();
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < ttl) return hit.reply;
    const reply = compute();
    const entry: Entry = { at: now, reply };
    this.entries.set(key, entry);
    // Keep only successful, modest replies; anything else is dropped once it has been shared.
    reply.then(
      (r) => {
        const keep = r.status === 200 && r.body.length <= MAX_BODY_CHARS && !r.body.includes('"errors"');
        if (!keep && this.entries.get(key) === entry) this.entries.delete(key);
      },
      () => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    if (this.entries.size > MAX_ENTRIES) this.prune(now, ttl);
    return reply;
  }

  /** Forgets every reply (after a mutation through this process). */
  clear(): void {
    this.entries.clear();
  }

  private prune(now: number, ttl: number): void {
    for (const [k, e] of this.entries) if (now - e.at >= ttl) this.entries.delete(k);
    // Still full of fresh entries: drop the oldest (insertion order).
    while (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
  }
}
