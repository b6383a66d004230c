/**
 * The dashboard's one store per server process: opened on first use with DATABASE_URL (a team's
 * PostgreSQL) or the embedded PGlite under SELFSUP_HOME (default `.selfsup/db`), then kept open.
 *
 * An embedded PGlite directory may be open in one process only (PGlite takes no lock of its own,
 * and two writers corrupt it). While the dashboard runs it owns the directory: it writes
 * `<dataDir>.lock` with its pid, refuses to open a directory another live process has locked, and
 * removes the lock on exit. Runs written while the dashboard is up need PostgreSQL (DATABASE_URL),
 * or the dashboard stopped meanwhile. PostgreSQL is shared freely.
 */
import { readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import type { RunStore } from "@selfsup/store";

type StoreModule = typeof import("@selfsup/store");

/**
 * @selfsup/store is loaded by Node at run time rather than bundled (a workspace package resolves
 * outside node_modules, where Next's serverExternalPackages does not reach).
 */
async function storeModule(): Promise<StoreModule> {
  const specifier = "@selfsup/store";
  return (await import(/* webpackIgnore: true */ /* turbopackIgnore: true */ specifier)) as StoreModule;
}

interface Holder {
  promise?: Promise<RunStore>;
  lockPath?: string;
  store?: RunStore;
  hooked?: boolean;
}

// On globalThis so `next dev` module reloads reuse the open store instead of opening a second one.
const KEY = Symbol.for("selfsup.dashboard.store");
const g = globalThis as typeof globalThis & { [KEY]?: Holder };
const holder: Holder = (g[KEY] ??= {});

export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
}

/** Describes where the store is, for logs and errors (password hidden). */
export async function describeStoreTarget(env: Record<string, string | undefined> = process.env): Promise<string> {
  const { resolveTarget, redact } = await storeModule();
  const t = resolveTarget({}, env as NodeJS.ProcessEnv);
  if (t.kind === "pg") return `PostgreSQL ${redact(t.url)}`;
  if (t.kind === "pglite") return `PGlite ${t.dataDir}`;
  return "in-memory PGlite";
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes `<dataDir>.lock` for this process, or explains who holds it. */
export function acquireLock(lockPath: string): void {
  const body = JSON.stringify({ pid: process.pid, owner: "@selfsup/dashboard", host: hostname(), since: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, body, { flag: "wx" });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holderInfo: { pid?: number; owner?: string; host?: string } = {};
    try {
      holderInfo = JSON.parse(readFileSync(lockPath, "utf8"));
    } catch {}
    const sameHost = !holderInfo.host || holderInfo.host === hostname();
    if (typeof holderInfo.pid === "number" && sameHost && holderInfo.pid !== process.pid && !pidAlive(holderInfo.pid)) {
      unlinkSync(lockPath); // stale: its process is gone
      continue;
    }
    if (holderInfo.pid === process.pid) return;
    throw new StoreUnavailableError(
      `the embedded store is in use by ${holderInfo.owner ?? "another process"} (pid ${holderInfo.pid ?? "?"}); ` +
        `PGlite allows one process per directory. Stop it, or share a PostgreSQL via DATABASE_URL (lock: ${lockPath})`,
    );
  }
}

function releaseLock(): void {
  if (!holder.lockPath) return;
  try {
    const info = JSON.parse(readFileSync(holder.lockPath, "utf8")) as { pid?: number };
    if (info.pid === process.pid) unlinkSync(holder.lockPath);
  } catch {}
  holder.lockPath = undefined;
}

function hookExit(): void {
  if (holder.hooked) return;
  holder.hooked = true;
  // Close PGlite cleanly on SIGINT/SIGTERM, then exit. scripts/start.mjs sets
  // NEXT_MANUAL_SIG_HANDLE=1 so that Next leaves these signals to us instead of exiting first.
  const shutdown = (signal: NodeJS.Signals) => {
    const store = holder.store;
    holder.store = undefined;
    holder.promise = undefined;
    const done = () => {
      releaseLock();
      process.exit(signal === "SIGINT" ? 130 : 143);
    };
    if (!store) return done();
    store.close().then(done, done);
    setTimeout(done, 5000).unref();
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  process.once("exit", releaseLock);
}

async function open(): Promise<RunStore> {
  const { openStore, resolveTarget } = await storeModule();
  const target = resolveTarget();
  if (target.kind === "pglite") {
    const lockPath = `${target.dataDir}.lock`;
    acquireLock(lockPath);
    holder.lockPath = lockPath;
  }
  hookExit();
  try {
    const store = await openStore({});
    holder.store = store;
    return store;
  } catch (err) {
    releaseLock();
    throw new StoreUnavailableError(`could not open the store (${await describeStoreTarget()}): ${(err as Error).message}`);
  }
}

/** The process's store, opened on first call. A failed open is retried on the next call. */
export function getStore(): Promise<RunStore> {
  if (!holder.promise) {
    holder.promise = open();
    holder.promise.catch(() => {
      holder.promise = undefined;
    });
  }
  return holder.promise;
}
