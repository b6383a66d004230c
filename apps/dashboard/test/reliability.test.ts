/**
 * The GraphQL route's HTTP status rule and its reply cache (src/server/http-status.ts,
 * reply-cache.ts); the route itself is exercised over HTTP by the fault suite (tests/faults).
 */
import { describe, expect, it } from "vitest";
import { statusForErrors } from "../src/server/http-status";
import { isReadOnlyQuery, type Reply, ReplyCache } from "../src/server/reply-cache";

const err = (code: string) => ({ message: code, extensions: { code } });

describe("one status rule for GraphQL replies", () => {
  it("maps every refusal of the client's request to 400, auth to 401/403, a down store to 503", () => {
    expect(statusForErrors([], true)).toBeUndefined();
    for (const code of [
      "BAD_USER_INPUT",
      "QUERY_TOO_DEEP",
      "QUERY_TOO_COSTLY",
      "GRAPHQL_PARSE_FAILED",
      "GRAPHQL_VALIDATION_FAILED",
      "BAD_REQUEST",
    ]) {
      expect(statusForErrors([err(code)], false), code).toBe(400);
      expect(statusForErrors([err(code)], true), code).toBe(400);
    }
    expect(statusForErrors([err("UNAUTHENTICATED")], false)).toBe(401);
    expect(statusForErrors([err("FORBIDDEN")], false)).toBe(403);
    expect(statusForErrors([err("STORE_UNAVAILABLE"), err("BAD_USER_INPUT")], false)).toBe(503);
    expect(statusForErrors([err("NOT_FOUND")], true)).toBe(200);
    expect(statusForErrors([err("INTERNAL_SERVER_ERROR")], false)).toBe(500);
  });
});

describe("reply cache", () => {
  const ok = (body: string): Reply => ({ status: 200, body, headers: [] });

  it("tells read-only queries from mutations and subscriptions", () => {
    expect(isReadOnlyQuery("{ runCount }", undefined)).toBe(true);
    expect(isReadOnlyQuery("query A { runCount }", undefined)).toBe(true);
    expect(isReadOnlyQuery("mutation { setTags(id: 1, tags: []) { id } }", undefined)).toBe(false);
    expect(isReadOnlyQuery("query A { runCount } mutation B { x }", "B")).toBe(false);
    expect(isReadOnlyQuery("query A { runCount } mutation B { x }", undefined)).toBe(false);
    expect(isReadOnlyQuery("{ runs(", undefined)).toBe(false);
  });

  it("shares one execution between concurrent identical requests and reuses it within the TTL", async () => {
    const cache = new ReplyCache(() => 60_000);
    let calls = 0;
    const compute = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      return ok(`{"data":${calls}}`);
    };
    const key = ReplyCache.key("token-a", '{"query":"{ runCount }"}');
    const replies = await Promise.all(Array.from({ length: 50 }, () => cache.get(key, compute)));
    expect(calls).toBe(1);
    expect(new Set(replies.map((r) => r.body))).toEqual(new Set(['{"data":1}']));
    await cache.get(key, compute);
    expect(calls).toBe(1);
    // Other credentials or another body: another execution.
    await cache.get(ReplyCache.key("token-b", '{"query":"{ runCount }"}'), compute);
    expect(calls).toBe(2);
    cache.clear();
    await cache.get(key, compute);
    expect(calls).toBe(3);
  });

  it("keeps no error reply, and nothing when the TTL is 0", async () => {
    const cache = new ReplyCache(() => 60_000);
    let calls = 0;
    const failing = async () => {
      calls++;
      return { status: 200, body: '{"errors":[{"message":"x"}]}', headers: [] } satisfies Reply;
    };
    await cache.get("k", failing);
    await new Promise((r) => setTimeout(r, 0));
    await cache.get("k", failing);
    expect(calls).toBe(2);
    const off = new ReplyCache(() => 0);
    let n = 0;
    await off.get("k", async () => ok(String(++n)));
    await off.get("k", async () => ok(String(++n)));
    expect(n).toBe(2);
  });
});
