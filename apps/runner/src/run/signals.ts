/**
 * Ctrl-C and SIGTERM for a training process: the first one asks the run to stop after the current
 * step (checkpoint, flush, status interrupted, exit 130); a second one exits at once (the run is
 * then failed by the stale-heartbeat sweep and can still be resumed from its last checkpoint).
 */
export interface StopSignals {
  signal: AbortSignal;
  dispose(): void;
}

export function stopOnSignals(onFirst?: (sig: NodeJS.Signals) => void): StopSignals {
  const controller = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`\n${sig} again: exiting now without a checkpoint\n`);
      process.exit(130);
    }
    onFirst?.(sig);
    controller.abort(sig);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    signal: controller.signal,
    dispose() {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
}
