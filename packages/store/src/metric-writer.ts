import { StoreError } from "./errors.js";
import { KEY_RE } from "./schemas.js";

/** A validated point ready for the database. */
export interface NormalizedPoint {
  key: string;
  step: number;
  value: number;
  wallTime: Date;
}

export interface MetricWriterOptions {
  /** Flush once this many points are buffered (1..50000, default 500). */
  flushEvery?: number;
  /** Flush buffered points at most this long after the first was written (ms; 0 = only by count/close; default 1000). */
  flushIntervalMs?: number;
  /**
   * Points buffered (not yet in the database) at which the writer counts as full (default
   * max(100000, 20 * flushEvery)). A full writer still takes every point, never drops one and
   * never waits: write() returns false and `onFull` is called, so the loop can slow down or
   * `await writer.drain()`.
   */
  highWaterMark?: number;
  /** Called once each time the writer becomes full, with the number of points waiting. */
  onFull?: (pending: number) => void;
  /**
   * Called when a background flush fails. The points stay buffered and are retried by the next
   * flush; flush() and close() reject if they still cannot be written.
   */
  onError?: (error: Error) => void;
}

/**
 * Buffers metric points from a training loop and writes them in batches: one transaction and one
 * multi-row upsert per batch instead of a round trip per scalar. write()/log() never wait on the
 * database; a flush starts in the background every `flushEvery` points or `flushIntervalMs`, and
 * flush()/close() wait for everything written so far. The buffer is bounded by `highWaterMark`
 * in the way a Node stream is: past it write() returns false (and onFull fires) but still keeps
 * the point; `drain()` resolves once the database has caught up. Because rows are keyed by (run, key, step),
 * a batch replayed after a crash or resume leaves no duplicates. Within the buffer, a second
 * write of the same (key, step) replaces the first.
 */
export class MetricWriter {
  readonly runId: string;
  private readonly flushEvery: number;
  private readonly flushIntervalMs: number;
  private readonly highWaterMark: number;
  private readonly onFull: ((pending: number) => void) | undefined;
  private readonly onError: ((error: Error) => void) | undefined;
  /** Points handed to the flush in progress. */
  private inFlight = 0;
  /** A background flush is queued and has not started: later writes need not queue another. */
  private flushQueued = false;
  private isFull = false;
  private drainWaiters: Array<() => void> = [];
  private buffer = new Map<string, NormalizedPoint>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private flushedPoints = 0;

  /** @internal Use RunStore.metricWriter(runId). */
  constructor(
    runId: string,
    private readonly sink: (points: NormalizedPoint[]) => Promise<void>,
    options: MetricWriterOptions = {},
    private readonly onClose: () => void = () => {},
  ) {
    this.runId = runId;
    this.flushEvery = options.flushEvery ?? 500;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    if (!Number.isInteger(this.flushEvery) || this.flushEvery < 1 || this.flushEvery > 50_000) {
      throw new StoreError("invalid_input", "flushEvery: must be an integer in 1..50000", "flushEvery");
    }
    if (!Number.isFinite(this.flushIntervalMs) || this.flushIntervalMs < 0) {
      throw new StoreError("invalid_input", "flushIntervalMs: must be a number >= 0", "flushIntervalMs");
    }
    this.highWaterMark = options.highWaterMark ?? Math.max(100_000, this.flushEvery * 20);
    if (!Number.isInteger(this.highWaterMark) || this.highWaterMark < this.flushEvery) {
      throw new StoreError(
        "invalid_input",
        `highWaterMark: must be an integer >= flushEvery (${this.flushEvery})`,
        "highWaterMark",
      );
    }
    this.onFull = options.onFull;
    this.onError = options.onError;
  }

  /** Points buffered and not yet handed to a flush. */
  get pending(): number {
    return this.buffer.size;
  }

  /** Whether the points not yet in the database (buffered + in flight) reached highWaterMark. */
  get full(): boolean {
    return this.buffer.size + this.inFlight >= this.highWaterMark;
  }

  /** Resolves when the writer is no longer full (at once if it is not). */
  drain(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Points written to the database so far. */
  get flushed(): number {
    return this.flushedPoints;
  }

  /**
   * Buffers one point; false when the writer is full (the point is kept all the same). Throws
   * StoreError at once for a bad key/step/value (naming it), or after close().
   */
  write(key: string, step: number, value: number, wallTime: Date = new Date()): boolean {
    if (this.closed) throw new StoreError("conflict", `metric writer for run ${this.runId} is closed`);
    if (typeof key !== "string" || !KEY_RE.test(key)) {
      throw new StoreError(
        "invalid_input",
        `key: ${JSON.stringify(key)} must be 1-128 characters of A-Z a-z 0-9 _ . : / @ -`,
        "key",
      );
    }
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new StoreError(
        "invalid_input",
        `step: must be an integer >= 0 (got ${step}) for key ${key}`,
        "step",
      );
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new StoreError(
        "invalid_input",
        `value: must be a finite number (got ${value}) for key ${key}`,
        "value",
      );
    }
    if (!(wallTime instanceof Date) || Number.isNaN(wallTime.getTime())) {
      throw new StoreError("invalid_input", `wallTime: must be a valid Date for key ${key}`, "wallTime");
    }
    this.buffer.set(`${key}\u0000${step}`, { key, step, value, wallTime });
    if (this.buffer.size >= this.flushEvery) {
      if (!this.flushQueued) this.background();
    } else if (this.timer === undefined && this.flushIntervalMs > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.background();
      }, this.flushIntervalMs);
      // A pending flush must not keep the process alive; close() flushes anyway.
      this.timer.unref();
    }
    if (!this.full) return true;
    if (!this.isFull) {
      this.isFull = true;
      this.onFull?.(this.buffer.size + this.inFlight);
    }
    return false;
  }

  /** Buffers several keys at one step: `writer.log(step, { loss, lr })`; false when full. */
  log(step: number, values: Record<string, number>, wallTime: Date = new Date()): boolean {
    let ok = true;
    for (const [key, value] of Object.entries(values)) ok = this.write(key, step, value, wallTime) && ok;
    return ok;
  }

  /** Writes everything buffered so far; resolves when it is in the database. */
  flush(): Promise<void> {
    return this.enqueue();
  }

  /** Flushes and stops accepting points. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    try {
      await this.enqueue();
    } finally {
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.onClose();
    }
  }

  private background(): void {
    this.flushQueued = true;
    this.enqueue().catch((err: unknown) => {
      const error = err instanceof Error ? err : new Error(String(err));
      this.onError?.(error);
    });
  }

  /** Serializes flushes: each takes what is buffered when its turn comes. */
  private enqueue(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const run = this.chain.then(() => {
      this.flushQueued = false;
      return this.flushNow();
    });
    // Keep the chain alive after a failure; the caller of this flush sees the error.
    this.chain = run.catch(() => {});
    return run;
  }

  private async flushNow(): Promise<void> {
    if (this.buffer.size === 0) return;
    const batch = this.buffer;
    this.buffer = new Map();
    this.inFlight = batch.size;
    try {
      await this.sink([...batch.values()]);
      this.flushedPoints += batch.size;
    } catch (err) {
      // Put the batch back under anything written since (newer values win), to retry later.
      for (const [k, pt] of batch) if (!this.buffer.has(k)) this.buffer.set(k, pt);
      throw err;
    } finally {
      this.inFlight = 0;
    }
    if (!this.full) {
      this.isFull = false;
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const resolve of waiters) resolve();
    } else if (this.buffer.size >= this.flushEvery && !this.flushQueued) {
      // Still behind: keep flushing without waiting for the next write.
      this.background();
    }
  }
}
