/**
 * A running run's heartbeat: keeps the run from being swept as stale, and is how a cancel set from
 * outside (dashboard, `selfsup cancel`, another process) reaches the process that trains it.
 */
import type { RunStore } from "@selfsup/store";

export interface Heartbeat {
  stop(): void;
}

/** Beats every `everyMs`; calls `onCancelled` when the store says the run was cancelled. */
export function startHeartbeat(
  store: RunStore,
  runId: string,
  everyMs: number,
  onCancelled: () => void,
): Heartbeat {
  const timer = setInterval(() => {
    store
      .heartbeat(runId)
      .then((status) => {
        if (status === "cancelled") onCancelled();
      })
      .catch(() => {
        // transient database trouble: the next beat retries; stale detection is the backstop
      });
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
