/** Pure pieces: auth decisions, cookies, config diff, scatter parsing, cursors, smoothing, catalogue helpers. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSchema, type OperationDefinitionNode, parse, validate } from "graphql";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { generate } from "../scripts/codegen.mjs";
import { ema } from "../src/client/smoothing";
import { diffConfigs, flattenConfig } from "../src/lib/config-diff";
import { parseScatter } from "../src/lib/scatter";
import {
  type AuthConfig,
  authConfigFromEnv,
  authenticate,
  cookieFromHeader,
  isLoopbackHost,
  mutationRefusal,
  roleForSession,
  roleForToken,
  safeNextPath,
  sessionCookieValue,
  tokensEqual,
} from "../src/server/auth";
import { optionsToJsonSchema, pluginRoots } from "../src/server/catalogue";
import { decodePosition, encodePosition } from "../src/server/cursor";
import { typeDefs } from "../src/server/generated/graphql";
import { breadthLimitRule, LIMITS, operationCost } from "../src/server/limits";

describe("auth", () => {
  const cfg: AuthConfig = { loginRequired: true, teamToken: "team-token-123", readToken: "read-token-456" };

  it("treats only loopback addresses as loopback; an unset HOST is not", () => {
    for (const h of ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2", " LOCALHOST "])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "192.168.1.2", "example.com", "", undefined, "127.0.0.1.evil.com"])
      expect(isLoopbackHost(h)).toBe(false);
    expect(authConfigFromEnv({ HOST: "127.0.0.1" }).loginRequired).toBe(false);
    expect(authConfigFromEnv({ HOST: "0.0.0.0", SELFSUP_TOKEN: "t" })).toEqual({
      loginRequired: true,
      teamToken: "t",
      readToken: null,
    });
    expect(authConfigFromEnv({}).loginRequired).toBe(true);
    expect(authConfigFromEnv({ HOST: "localhost", SELFSUP_AUTH: "required" }).loginRequired).toBe(true);
  });

  it("compares tokens in constant time and grants the right role", () => {
    expect(tokensEqual("abc", "abc")).toBe(true);
    expect(tokensEqual("abc", "abd")).toBe(false);
    expect(tokensEqual("abc", "abcd")).toBe(false);
    expect(roleForToken("team-token-123", cfg)).toBe("write");
    expect(roleForToken("read-token-456", cfg)).toBe("read");
    expect(roleForToken("team-token-12", cfg)).toBeNull();
    expect(roleForToken("", { ...cfg, teamToken: null, readToken: null })).toBeNull();
  });

  it("issues session cookies that prove the token without containing it", () => {
    const write = sessionCookieValue("team-token-123", "write");
    expect(write).not.toContain("team-token-123");
    expect(write.startsWith("write.")).toBe(true);
    expect(roleForSession(write, cfg)).toBe("write");
    expect(roleForSession(sessionCookieValue("read-token-456", "read"), cfg)).toBe("read");
    // A read cookie relabelled as write, a cookie from an old token, garbage: refused.
    expect(roleForSession(`write.${sessionCookieValue("read-token-456", "read").slice(5)}`, cfg)).toBeNull();
    expect(roleForSession(write, { ...cfg, teamToken: "rotated" })).toBeNull();
    expect(roleForSession("write", cfg)).toBeNull();
    expect(roleForSession("admin.x", cfg)).toBeNull();
  });

  it("decides each request: bearer first, then cookie, then loopback", () => {
    const cookie = sessionCookieValue("read-token-456", "read");
    expect(authenticate({ authorization: "Bearer team-token-123" }, cfg)).toEqual({
      ok: true,
      role: "write",
    });
    expect(
      authenticate(
        { authorization: "bearer read-token-456", session: sessionCookieValue("team-token-123", "write") },
        cfg,
      ),
    ).toEqual({ ok: true, role: "read" });
    expect(authenticate({ session: cookie }, cfg)).toEqual({ ok: true, role: "read" });
    expect(authenticate({}, cfg)).toMatchObject({ ok: false, reason: "missing" });
    expect(authenticate({ session: "stale.value" }, cfg)).toMatchObject({ ok: false, reason: "missing" });
    expect(authenticate({}, { ...cfg, loginRequired: false })).toEqual({ ok: true, role: "anonymous" });
    // A wrong bearer token is refused even on loopback.
    expect(authenticate({ authorization: "Bearer nope" }, { ...cfg, loginRequired: false })).toMatchObject({
      ok: false,
      reason: "invalid",
    });
    expect(authenticate({ authorization: "Basic abc" }, cfg)).toMatchObject({ ok: false, reason: "invalid" });
    expect(authenticate({}, { loginRequired: true, teamToken: null, readToken: null })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/neither SELFSUP_TOKEN nor SELFSUP_READ_TOKEN/),
    });
  });

  it("lets only the team token mutate", () => {
    expect(mutationRefusal("write", cfg)).toBeNull();
    expect(mutationRefusal("read", cfg)?.code).toBe("FORBIDDEN");
    expect(mutationRefusal("anonymous", cfg)?.code).toBe("UNAUTHENTICATED");
    expect(mutationRefusal("anonymous", { ...cfg, teamToken: null })?.message).toMatch(/SELFSUP_TOKEN/);
  });

  it("parses cookies and keeps login redirects on this site", () => {
    expect(cookieFromHeader("a=1; selfsup_session=write.abc%3D; b=2", "selfsup_session")).toBe("write.abc=");
    expect(cookieFromHeader("a=1", "selfsup_session")).toBeNull();
    expect(safeNextPath("/runs/abc?x=1")).toBe("/runs/abc?x=1");
    for (const bad of ["https://evil.com", "//evil.com", "/\\evil.com", "", null, "runs"])
      expect(safeNextPath(bad)).toBe("/");
  });
});

describe("config diff", () => {
  it("flattens nested objects and arrays of objects, keeps scalar arrays whole", () => {
    const flat = flattenConfig({ a: { b: 1, c: [1, 2] }, aug: [{ name: "crop" }, { name: "flip" }], e: {} });
    expect([...flat.entries()]).toEqual([
      ["a.b", 1],
      ["a.c", [1, 2]],
      ["aug.0.name", "crop"],
      ["aug.1.name", "flip"],
      ["e", {}],
    ]);
  });

  it("keeps only differing paths; a missing path differs", () => {
    const d = diffConfigs([
      { lr: 0.1, bs: 128, opt: { name: "adam" }, crop: [0.2, 1] },
      { lr: 0.2, bs: 128, opt: { name: "adam", beta: 0.9 }, crop: [0.2, 1] },
    ]);
    expect(d).toEqual([
      { path: "lr", values: [0.1, 0.2] },
      { path: "opt.beta", values: [undefined, 0.9] },
    ]);
    expect(diffConfigs([{ a: 1 }, { a: 1 }])).toEqual([]);
    expect(diffConfigs([{ a: 1 }, { a: 1 }], { all: true })).toEqual([{ path: "a", values: [1, 1] }]);
  });
});

describe("scatter artifacts", () => {
  it("reads the common shapes and refuses others", () => {
    const want = [
      { x: 1, y: 2, label: "a" },
      { x: 3, y: 4, label: null },
    ];
    expect(
      parseScatter([
        { x: 1, y: 2, label: "a" },
        { x: 3, y: 4 },
      ]),
    ).toEqual(want);
    expect(
      parseScatter({
        points: [
          [1, 2, "a"],
          [3, 4],
        ],
      }),
    ).toEqual(want);
    expect(parseScatter({ x: [1, 3], y: [2, 4], labels: ["a"] })).toEqual(want);
    // The runner's PCA artifact: rows of [x, y] and the classes alongside.
    expect(
      parseScatter({
        split: "test",
        points: [
          [1, 2],
          [3, 4],
        ],
        labels: [7, 3],
      }),
    ).toEqual([
      { x: 1, y: 2, label: "7" },
      { x: 3, y: 4, label: "3" },
    ]);
    expect(parseScatter({ xs: [1], ys: [2], labels: [7] })).toEqual([{ x: 1, y: 2, label: "7" }]);
    expect(parseScatter({ image: "x" })).toBeNull();
    expect(parseScatter([{ x: "1", y: 2 }])).toBeNull();
    expect(parseScatter(null)).toBeNull();
  });
});

describe("edge cursors", () => {
  it("round-trips and refuses forgeries and oversized skips", () => {
    const c = encodePosition({ after: "abc", skip: 3 });
    expect(decodePosition(c, 200)).toEqual({ after: "abc", skip: 3 });
    expect(decodePosition(encodePosition({ after: null, skip: 0 }), 200)).toEqual({ after: null, skip: 0 });
    expect(() => decodePosition(encodePosition({ after: "a", skip: 201 }), 200)).toThrow(/not a cursor/);
    expect(() => decodePosition("!!", 200)).toThrow(/not a cursor/);
    expect(() => decodePosition(Buffer.from('{"a":1}').toString("base64url"), 200)).toThrow(/not a cursor/);
  });
});

describe("smoothing", () => {
  it("is the debiased EMA and leaves gaps alone", () => {
    expect(ema([1, 1, 1], 0.9)).toEqual([1, 1, 1].map(() => expect.closeTo(1, 10)));
    expect(ema([0, 10], 0.5)).toEqual([0, expect.closeTo((0.5 * 0 * 0.5 + 0.5 * 10) / (1 - 0.25), 10)]);
    expect(ema([1, null, 3], 0)).toEqual([1, null, 3]);
    expect(ema([1, Number.NaN, 1], 0.5)[1]).toBeNaN();
  });
});

describe("catalogue helpers", () => {
  it("turns zod options into JSON Schema with defaults", () => {
    const s = optionsToJsonSchema(
      z.object({ temperature: z.number().positive().default(0.5).describe("softmax temperature") }),
    );
    expect(s).toMatchObject({
      type: "object",
      properties: { temperature: { type: "number", default: 0.5, description: "softmax temperature" } },
    });
    expect(optionsToJsonSchema(z.object({ f: z.custom(() => true) }))).toMatchObject({ type: "object" });
  });

  it("looks for plugins from the working directory and the installed runner", () => {
    const app = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
    const roots = pluginRoots(app, { SELFSUP_PLUGIN_ROOT: "/opt/plugins" });
    expect(roots[0]).toBe(app);
    expect(roots).toContain("/opt/plugins");
    expect(roots.some((r) => r.endsWith(path.join("apps", "runner")))).toBe(true);
  });
});

describe("generated GraphQL types", () => {
  it("are up to date with schema.graphql (run `node scripts/codegen.mjs` after editing it)", async () => {
    const file = fileURLToPath(new URL("../src/server/generated/graphql.ts", import.meta.url));
    expect(readFileSync(file, "utf8")).toBe(await generate());
  });
});

describe("breadth limits (issue 26, item 3)", () => {
  const schema = buildSchema(typeDefs);
  const check = (query: string) =>
    validate(schema, parse(query), [breadthLimitRule(LIMITS.maxAliases, LIMITS.maxRootFields)]).map((e) => ({
      message: e.message,
      code: e.extensions.code,
    }));
  const aliased = (n: number) =>
    `{ ${Array.from({ length: n }, (_, i) => `a${i}: runs(first: 1, filter: { search: "w${i}" }) { totalCount }`).join(" ")} }`;

  it("allows up to the limits and refuses more aliases or top-level fields, counting through fragments", () => {
    expect(check(aliased(LIMITS.maxRootFields))).toEqual([]);
    expect(check(aliased(1000))).toEqual([
      { message: "the operation uses 1000 aliases; the limit is 30", code: "QUERY_TOO_BROAD" },
      { message: "the operation asks for 1000 top-level fields; the limit is 20", code: "QUERY_TOO_BROAD" },
    ]);
    const viaFragments = `query Q { ...A ...B } fragment A on Query { ${Array.from({ length: 11 }, (_, i) => `run(id: "a${i}") { id }`).join(" ")} } fragment B on Query { ${Array.from({ length: 10 }, (_, i) => `run(id: "b${i}") { id }`).join(" ")} }`;
    expect(check(viaFragments)).toEqual([
      { message: "operation Q asks for 21 top-level fields; the limit is 20", code: "QUERY_TOO_BROAD" },
    ]);
    // Aliases deep inside count too; introspection is not counted.
    const deep = `{ runs(first: 1) { edges { node { ${Array.from({ length: 31 }, (_, i) => `k${i}: summaryValue(key: "k${i}")`).join(" ")} } } } __schema { queryType { name } } }`;
    expect(check(deep).map((e) => e.message)).toEqual(["the operation uses 31 aliases; the limit is 30"]);
  });

  it("still counts the cost of every aliased occurrence of a field", () => {
    const one = `{ runs(first: 10) { edges { node { id name } } } }`;
    const two = `{ a: runs(first: 10) { edges { node { id name } } } b: runs(first: 10) { edges { node { id name } } } }`;
    const cost = (q: string) => {
      const doc = parse(q);
      const op = doc.definitions[0] as OperationDefinitionNode;
      return operationCost(schema, doc, op);
    };
    expect(cost(two)).toBe(2 * cost(one));
  });
});
