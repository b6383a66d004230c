import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  lockLiveness,
  ownLockInfo,
  processStartTime,
  readLockFile,
  removeLockIfOurs,
  removeStaleLock,
  type StoreLockInfo,
  tryCreateLock,
} from "../src/lock.js";
import { SessionGate } from "../src/share.js";

const dir = mkdtempSync(join(tmpdir(), "selfsup-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid;

function lock(partial: Partial<StoreLockInfo>): StoreLockInfo {
  return { pid: 1, host: hostname(), startedAt: "2024-01-01T00:00:00.000Z", command: "x", ...partial };
}

describe("<dataDir>.lock", () => {
  it("is created exclusively and removed only by its writer", () => {
    const path = join(dir, "a.lock");
    const mine = ownLockInfo({ share: true });
    expect(tryCreateLock(path, mine)).toBe(true);
    expect(tryCreateLock(path, ownLockInfo({ share: true }))).toBe(false);
    const read = readLockFile(path);
    expect(read.kind === "ok" && read.info).toMatchObject({ pid: process.pid, share: true, version: 1 });
    expect(removeLockIfOurs(path, { ...mine, startedAt: "other" })).toBe(false);
    expect(removeLockIfOurs(path, mine)).toBe(true);
    expect(readLockFile(path).kind).toBe("missing");
  });

  it("tells live, dead, reused and foreign holders apart", () => {
    expect(lockLiveness(lock({ pid: deadPid() }), false)).toBe("dead");
    expect(lockLiveness(lock({ pid: process.ppid }), false)).toBe("alive");
    expect(lockLiveness(lock({ pid: process.ppid, host: "elsewhere" }), false)).toBe("other-host");
    // Our own pid: alive only when this process hosts the directory, or wrote the lock itself.
    expect(lockLiveness(lock({ pid: process.pid }), true)).toBe("alive");
    expect(lockLiveness(lock({ pid: process.pid }), false)).toBe("dead");
    expect(lockLiveness(ownLockInfo({ share: true }), false)).toBe(
      processStartTime(process.pid) ? "alive" : "dead",
    );
    const start = processStartTime(process.ppid);
    if (start) {
      // Same pid, different process start time: the pid was reused, the lock is stale.
      expect(lockLiveness(lock({ pid: process.ppid, pidStart: start }), false)).toBe("alive");
      expect(lockLiveness(lock({ pid: process.ppid, pidStart: `${start}1` }), false)).toBe("dead");
    }
  });

  it("removes a stale lock only if it is still the one judged stale", () => {
    const path = join(dir, "b.lock");
    const stale = JSON.stringify(lock({ pid: deadPid() }));
    writeFileSync(path, stale);
    writeFileSync(`${path}.takeover`, "123"); // someone else is taking over right now
    expect(removeStaleLock(path, stale)).toBe(false);
    rmSync(`${path}.takeover`);
    const replaced = JSON.stringify(lock({ pid: process.ppid }));
    writeFileSync(path, replaced); // a live process won the race meanwhile
    expect(removeStaleLock(path, stale)).toBe(true);
    expect(readFileSync(path, "utf8")).toBe(replaced);
    writeFileSync(path, stale);
    expect(removeStaleLock(path, stale)).toBe(true);
    expect(readLockFile(path).kind).toBe("missing");
  });

  it("reads half-written and foreign lock files", () => {
    const path = join(dir, "c.lock");
    writeFileSync(path, "");
    expect(readLockFile(path).kind).toBe("unreadable");
    writeFileSync(
      path,
      JSON.stringify({ pid: 42, owner: "@selfsup/dashboard", host: hostname(), since: "x" }),
    );
    const r = readLockFile(path);
    expect(r.kind === "ok" && r.info).toMatchObject({ pid: 42, command: "@selfsup/dashboard" });
  });
});

describe("SessionGate", () => {
  it("gives turns first come first served; host holds share, a queued client is not starved", async () => {
    const gate = new SessionGate();
    const log: string[] = [];
    await gate.acquire("host");
    await gate.acquire("host"); // host work runs together (PGlite orders it)
    const c1 = gate.acquire(1).then(() => log.push("c1"));
    const h3 = gate.acquire("host").then(() => log.push("h3")); // behind the waiting client
    const c2 = gate.acquire(2).then(() => log.push("c2"));
    gate.release("host");
    await Promise.resolve();
    expect(log).toEqual([]);
    gate.release("host");
    await c1;
    expect(gate.current).toBe(1);
    gate.release(1);
    await h3;
    expect(gate.current).toBe("host");
    gate.release("host");
    await c2;
    expect(log).toEqual(["c1", "h3", "c2"]);
    const c3 = gate.acquire(3);
    gate.cancel(3, new Error("gone"));
    await expect(c3).rejects.toThrow("gone");
    gate.release(2);
    expect(gate.current).toBeNull();
  });
});
