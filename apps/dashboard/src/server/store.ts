/**
 * The dashboard's one store per server process: opened on first use with DATABASE_URL (a team's
 * PostgreSQL) or the embedded PGlite under SELFSUP_HOME (default `.selfsup/db`), then kept open.
 *
 * An embedded PGlite directory is opened by one process at a time. @selfsup/store arbitrates: the
 * first opener takes `<dataDir>.lock`, hosts the directory and serves it on loopback; later openers
 * (a `selfsup train`, a worker, a second dashboard) connect through the host. So when the dashboard
 * starts first it owns the store while it runs and the runner writes through it (live charts
 * included); when the runner was first, the dashboard reads through the runner. If the host exits,
 * the store's DirectoryDb takes the directory over or reconnects to the survivor that did, and the
 * request waits for that. Only when that fails (past its limit) does a request see `host_exited`;
 * we then drop our handle, and the request after that opens the directory afresh.
 */
import type { RunStore } from "@selfsup/store";

type StoreModule = typeof import("@selfsup/store");

/**
 * @selfsup/store is loaded by Node at run time rather than bundled (a workspace package resolves
 * outside node_modules, where Next's serverExternalPackages does not reach).
 */
export async function storeModule(): Promise<StoreModule> {
  const specifier = "@selfsup/store";
  return (await import(/* webpackIgnore: true */ /* turbopackIgnore: true */ specifier)) as StoreModule;
}

interface Holder {
  promise?: Promise<RunStore>;
  store?: RunStore;
  hooked?: boolean;
}

// On globalThis so `next dev` module reloads reuse the open store instead of opening a second one.
const KEY = Symbol.for("selfsup.dashboard.store");
const g = globalThis as typeof globalThis & { [KEY]?: Holder };
if (!g[KEY]) g[KEY] = {};
const holder: Holder = g[KEY];

/** Where the store is, for logs and errors (password hidden). */
export async function describeStoreTarget(
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  const { resolveTarget, redact } = await storeModule();
  const t = resolveTarget({}, env as NodeJS.ProcessEnv);
  if (t.kind === "pg") return `PostgreSQL ${redact(t.url)}`;
  if (t.kind === "pglite") return `PGlite ${t.dataDir}`;
  return "in-memory PGlite";
}

function hookSignals(): void {
  if (holder.hooked) return;
  holder.hooked = true;
  // Close PGlite cleanly on SIGINT/SIGTERM (a host also stops serving and drops its lock), then
  // exit. scripts/start.mjs sets NEXT_MANUAL_SIG_HANDLE=1 so Next leaves these signals to us.
  const shutdown = (signal: NodeJS.Signals) => {
    const store = holder.store;
    holder.store = undefined;
    holder.promise = undefined;
    const done = () => process.exit(signal === "SIGINT" ? 130 : 143);
    if (!store) return done();
    store.close().then(done, done);
    setTimeout(done, 5000).unref();
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

async function open(): Promise<RunStore> {
  const { openStore } = await storeModule();
  hookSignals();
  const store = await openStore({});
  holder.store = store;
  return store;
}

/** The process's store, opened on first call. A failed open is retried on the next call. */
export function getStore(): Promise<RunStore> {
  if (!holder.promise) {
    const p = open();
    holder.promise = p;
    p.catch(() => {
      if (holder.promise === p) holder.promise = undefined;
    });
  }
  return holder.promise;
}

/** How this process reaches the store: its own PGlite, through another process, or PostgreSQL. */
export function storeRole(store: RunStore): {
  driver: string;
  role: "host" | "client" | null;
  hostPid: number | null;
} {
  const s = store.db.sharing;
  // A client of an embedded store talks to its host with the pg driver, but the store is PGlite.
  return { driver: s ? "pglite" : store.db.driver, role: s?.role ?? null, hostPid: s?.hostPid ?? null };
}

/**
 * Called with errors a request met: when the process that served us the embedded store is gone,
 * forget our handle so the next request reopens the directory.
 */
export function noteStoreError(err: unknown): void {
  const reason = (err as { name?: string; reason?: string } | null)?.reason;
  if ((err as { name?: string } | null)?.name !== "StoreUnavailableError") return;
  if (reason !== "host_exited" && reason !== "host_unreachable") return;
  const stale = holder.store;
  holder.store = undefined;
  holder.promise = undefined;
  stale?.close().catch(() => {});
}
