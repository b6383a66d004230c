import { describe, expect, it } from "vitest";
import { openStore, resolveTarget, StoreError } from "../src/index.js";

describe("database selection", () => {
  it("prefers url, then dataDir, then DATABASE_URL, then $SELFSUP_HOME/db", () => {
    const env = { DATABASE_URL: "postgres://team@db:5432/selfsup", SELFSUP_HOME: "/tmp/home" };
    expect(resolveTarget({ url: "memory://" }, env)).toEqual({ kind: "pglite-memory" });
    expect(resolveTarget({ url: "postgresql://u@h/db" }, env)).toEqual({
      kind: "pg",
      url: "postgresql://u@h/db",
    });
    expect(resolveTarget({ url: "file:///tmp/x" }, env)).toEqual({ kind: "pglite", dataDir: "/tmp/x" });
    expect(resolveTarget({ dataDir: "/tmp/d" }, env)).toEqual({ kind: "pglite", dataDir: "/tmp/d" });
    expect(resolveTarget({}, env)).toEqual({ kind: "pg", url: env.DATABASE_URL });
    expect(resolveTarget({}, { SELFSUP_HOME: "/tmp/home" })).toEqual({
      kind: "pglite",
      dataDir: "/tmp/home/db",
    });
    expect(resolveTarget({}, {})).toEqual({ kind: "pglite", dataDir: `${process.cwd()}/.selfsup/db` });
  });

  it("refuses unknown URLs without echoing a password", async () => {
    const err = (() => {
      try {
        resolveTarget({ url: "mysql://root:hunter2@h/db" }, {});
      } catch (e) {
        return e as StoreError;
      }
    })();
    expect(err).toBeInstanceOf(StoreError);
    expect(err?.field).toBe("url");
    expect(err?.message).not.toContain("hunter2");
    await expect(openStore({ url: "memory://", schema: "Bad-Name" })).rejects.toThrow(/schema/);
    expect(() => resolveTarget({}, { DATABASE_URL: "redis://x" })).toThrow(/DATABASE_URL/);
  });
});
