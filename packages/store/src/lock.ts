/**
 * The lock of an embedded PGlite directory: `<dataDir>.lock`, a small JSON file created with
 * O_CREAT|O_EXCL (`wx`), so exactly one process wins it. PGlite itself takes no lock, and two
 * processes opening one directory corrupt it. The holder records its pid, host, start time, command
 * line and, once it serves the database on loopback, the port; every other opener reads that and
 * connects through the socket instead (see share.ts), or fails with an error naming the holder.
 *
 * A lock whose pid is dead (on this host), or whose pid now belongs to a different process (the
 * process start time recorded from /proc differs: pid reuse after a reboot or in a container), is
 * stale and taken over. Takeover goes through a second, short-lived `<dataDir>.lock.takeover` file
 * so that two processes finding the same stale lock cannot both remove it and both win.
 */

import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";

/** What `<dataDir>.lock` holds. */
export interface StoreLockInfo {
  /** Format version of this file (absent in locks written by other tools). */
  version?: 1;
  /** Process holding the directory. */
  pid: number;
  /** `os.hostname()` of that process: a pid means nothing on another host. */
  host: string;
  /** Loopback port where the holder serves the database (absent until it listens, or when not sharing). */
  port?: number;
  /** Whether the holder shares the database on loopback (`false`: openStore's `share: false`). */
  share?: boolean;
  /** ISO time the lock was taken. */
  startedAt: string;
  /** The holder's command line (shortened), for error messages. */
  command: string;
  /** Schema the holder keeps the tables in (openStore's `schema`), if any. */
  schema?: string;
  /** Start time of the holding process from /proc/<pid>/stat (Linux), to detect pid reuse. */
  pidStart?: string;
  /**
   * Password for the loopback server (random per lock). The lock file is readable by its owner
   * only (0600), so only the same user's processes can connect.
   */
  secret?: string;
  /** Free-form owner name some tools write instead of `command` (e.g. the dashboard's early lock). */
  owner?: string;
}

/**
 * Path of the lock file for a PGlite data directory: `<dataDir>.lock`, with symbolic links resolved
 * so that two spellings of one directory share one lock.
 */
export function lockPathFor(dataDir: string): string {
  return `${canonicalDir(dataDir)}.lock`;
}

function canonicalDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    // does not exist (yet): resolve its parent
  }
  try {
    return join(realpathSync(dirname(dir)), basename(dir));
  } catch {
    return resolve(dir);
  }
}

/**
 * Reads the lock of a data directory: undefined when there is none (or it is being written or is
 * unreadable). For tools that want to say who holds a store (`selfsup runs`, the dashboard).
 */
export function readStoreLock(dataDir: string): StoreLockInfo | undefined {
  const r = readLockFile(lockPathFor(dataDir));
  if (r.kind !== "ok") return undefined;
  const { secret: _secret, ...info } = r.info;
  return info;
}

export type LockFileState =
  | { kind: "missing" }
  /** Not readable by this user (locks are 0600: held by another user's process). */
  | { kind: "denied" }
  | { kind: "unreadable"; raw: string; ageMs: number }
  | { kind: "ok"; raw: string; info: StoreLockInfo };

export function readLockFile(path: string): LockFileState {
  let raw: string;
  let ageMs = 0;
  try {
    raw = readFileSync(path, "utf8");
    ageMs = Date.now() - statSync(path).mtimeMs;
  } catch (err) {
    if (errno(err) === "ENOENT") return { kind: "missing" };
    if (errno(err) === "EACCES" || errno(err) === "EPERM") return { kind: "denied" };
    throw err;
  }
  try {
    const info = JSON.parse(raw) as Partial<StoreLockInfo>;
    if (info && typeof info === "object" && Number.isInteger(info.pid) && (info.pid as number) > 0) {
      return {
        kind: "ok",
        raw,
        info: {
          ...info,
          pid: info.pid as number,
          host: typeof info.host === "string" ? info.host : hostname(),
          startedAt: typeof info.startedAt === "string" ? info.startedAt : "",
          command: typeof info.command === "string" ? info.command : (info.owner ?? "unknown command"),
        },
      };
    }
  } catch {
    // Half written (the creator is between open and write) or garbage.
  }
  return { kind: "unreadable", raw, ageMs };
}

/** The lock this process would write for a directory. */
export function ownLockInfo(extra: { share: boolean; schema?: string }): StoreLockInfo {
  const pidStart = processStartTime(process.pid);
  return {
    ...(extra.share ? { secret: randomBytes(18).toString("base64url") } : {}),
    version: 1,
    pid: process.pid,
    host: hostname(),
    share: extra.share,
    startedAt: new Date().toISOString(),
    command: commandLine(),
    ...(extra.schema ? { schema: extra.schema } : {}),
    ...(pidStart ? { pidStart } : {}),
  };
}

/** Creates the lock file exclusively; false when it already exists. */
export function tryCreateLock(path: string, info: StoreLockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (err) {
    if (errno(err) === "EEXIST") return false;
    throw err;
  }
  try {
    writeSync(fd, JSON.stringify(info, null, 2));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Replaces the content of a lock we hold (write a temp file, rename over: readers never see half). */
export function rewriteLock(path: string, info: StoreLockInfo): void {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(info, null, 2));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Removes the lock if it is still the one we wrote (same pid and start time). Never throws. */
export function removeLockIfOurs(path: string, info: StoreLockInfo): boolean {
  try {
    const cur = readLockFile(path);
    if (cur.kind !== "ok" || cur.info.pid !== info.pid || cur.info.startedAt !== info.startedAt) return false;
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

export type Liveness =
  /** The holding process runs (on this host). */
  | "alive"
  /** The holder is gone: its pid is dead, or now belongs to another process. */
  | "dead"
  /** Held from another host: cannot tell. */
  | "other-host";

/**
 * Is the process named in a lock still there? `isOurs` says whether this process has the directory
 * open itself (a lock with our own pid that we do not hold is left over from an earlier process that
 * had the same pid, or from a tool in this process that locked the directory before opening it).
 */
export function lockLiveness(info: StoreLockInfo, isOurs: boolean): Liveness {
  if (info.host !== hostname()) return "other-host";
  if (info.pid === process.pid) {
    if (isOurs) return "alive";
    // Another copy of this module in the same process (bundlers, worker threads) wrote it?
    const mine = processStartTime(process.pid);
    if (info.version === 1 && info.pidStart !== undefined && mine !== undefined && info.pidStart === mine)
      return "alive";
    return "dead";
  }
  if (!pidAlive(info.pid)) return "dead";
  if (info.pidStart !== undefined) {
    const now = processStartTime(info.pid);
    if (now !== undefined && now !== info.pidStart) return "dead"; // pid reused
  }
  return "alive";
}

/**
 * Removes a stale lock, but only if its content is still `staleRaw` (what the caller judged stale),
 * under `<lock>.takeover` so two processes cannot both remove and both re-create it. Returns true
 * when the caller should simply try to create the lock again (removed, or changed meanwhile).
 */
export function removeStaleLock(path: string, staleRaw: string): boolean {
  const guard = `${path}.takeover`;
  try {
    const fd = openSync(guard, "wx", 0o644);
    writeSync(fd, String(process.pid));
    closeSync(fd);
  } catch (err) {
    if (errno(err) !== "EEXIST") throw err;
    // Someone else is taking over. A guard older than 10 s belongs to a process that died doing it.
    try {
      if (Date.now() - statSync(guard).mtimeMs > 10_000) unlinkSync(guard);
    } catch {
      // gone already
    }
    return false;
  }
  try {
    let cur: string | undefined;
    try {
      cur = readFileSync(path, "utf8");
    } catch (err) {
      if (errno(err) !== "ENOENT") throw err;
    }
    if (cur === staleRaw) unlinkSync(path);
    return true;
  } finally {
    try {
      unlinkSync(guard);
    } catch {
      // ignore
    }
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === "EPERM";
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined off Linux. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = rest[19]; // fields 3.. are rest[0..]; field 22 is rest[19]
    return start && /^\d+$/.test(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** `node cli.js train --x` (script names shortened), at most 200 characters. */
export function commandLine(): string {
  const [, script, ...args] = process.argv;
  const parts = [basename(process.argv0 || "node"), ...(script ? [basename(script)] : []), ...args];
  const s = parts.join(" ");
  return s.length > 200 ? `${s.slice(0, 197)}...` : s;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
