/**
 * A pool of decode workers (`node:worker_threads`, each running decode-worker.ts on sharp), so
 * files are read, decoded and resized off the training thread. The training thread only posts
 * file names and receives sample bytes; while a tfjs step holds it, the workers keep going.
 *
 * - Size: `size` workers (default: the cores, at most 32), each with up to `perWorker` jobs in
 *   flight (libvips does the work on libuv's thread pool; on a host with many cores raise
 *   UV_THREADPOOL_SIZE before starting node, its default is 4 threads).
 * - Two priorities: "now" (a batch the loader waits for) before "later" (filling the cache ahead).
 * - A worker that dies (an exception, an exit, memory) is replaced; the jobs it held are run again,
 *   each alone on a fresh worker, so the one file that kills a worker is found and answered as bad
 *   ("the decoder crashed on it"), and the others are decoded as usual. (A fault inside libvips
 *   that crashes the whole process cannot be contained by threads; sharp's input pixel limit keeps
 *   decompression bombs out.)
 * - Workers are unref'd while idle, so an unclosed pool never keeps node alive; `close()` ends them.
 */
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { DecodeJob, DecodeResult } from "./decode-job.js";
import { loadSharp } from "./decode-job.js";
import type { DecodeReply, DecodeRequest } from "./decode-worker.js";

export type DecodePriority = "now" | "later";

export interface DecodePoolOptions {
  /** Worker threads (default: `defaultDecodeWorkers()`). */
  size?: number;
  /** Jobs each worker holds at once (default 2: one decoding, one being read). */
  perWorker?: number;
  /** The worker module (default: decode-worker.js beside this file); tests swap in their own. */
  workerUrl?: URL;
}

/** Default worker count: one per core, at least 1, at most 32. */
export function defaultDecodeWorkers(): number {
  return Math.max(1, Math.min(32, availableParallelism()));
}

/** decode-worker.js next to this module; from sources (vitest) the built one in dist/. */
function defaultWorkerUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts")) {
    return new URL(import.meta.url.replace(/\/src\/data\/[^/]+\.ts$/, "/dist/data/decode-worker.js"));
  }
  return new URL("./decode-worker.js", import.meta.url);
}

interface Task {
  id: number;
  job: DecodeJob;
  /** Runs alone on a fresh worker: it was in flight when a worker died. */
  solo: boolean;
  resolve: (r: DecodeResult) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  tasks: Map<number, Task>;
  /** Holds a solo task: takes nothing else. */
  solo: boolean;
  dead: boolean;
}

export class DecodePool {
  readonly size: number;
  private readonly perWorker: number;
  private readonly workerUrl: URL;
  private readonly slots: Slot[] = [];
  private readonly queues: Record<DecodePriority | "solo", Task[]> = { solo: [], now: [], later: [] };
  private nextId = 1;
  private closed = false;
  private ready: Promise<unknown> | undefined;
  /** Workers that died and were replaced (for reports and tests). */
  crashes = 0;

  constructor(opts: DecodePoolOptions = {}) {
    this.size = Math.max(1, Math.floor(opts.size ?? defaultDecodeWorkers()));
    this.perWorker = Math.max(1, Math.floor(opts.perWorker ?? 2));
    this.workerUrl = opts.workerUrl ?? defaultWorkerUrl();
  }

  /** Jobs queued or running. */
  get pending(): number {
    return (
      this.queues.solo.length +
      this.queues.now.length +
      this.queues.later.length +
      this.slots.reduce((n, s) => n + s.tasks.size, 0)
    );
  }

  /** Decodes one file; resolves with the bytes or the reason it is bad (rejects only when closed). */
  decode(job: DecodeJob, priority: DecodePriority = "now"): Promise<DecodeResult> {
    if (this.closed) return Promise.reject(new Error("the decode pool is closed"));
    // sharp must be loaded by the main thread before any worker loads it (its shared libraries
    // must outlive the workers), so the first job waits for that.
    this.ready ??= loadSharp();
    return new Promise<DecodeResult>((resolve, reject) => {
      const task: Task = { id: this.nextId++, job, solo: false, resolve, reject };
      this.queues[priority].push(task);
      void this.ready!.then(
        () => this.pump(),
        (err: unknown) => this.failAll(new Error(`cannot load sharp: ${(err as Error).message}`)),
      );
    });
  }

  /** Ends every worker; queued and running jobs reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Error("the decode pool was closed"));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots.length = 0;
  }

  private failAll(err: Error): void {
    for (const q of Object.values(this.queues)) for (const t of q.splice(0)) t.reject(err);
    for (const s of this.slots) {
      for (const t of s.tasks.values()) t.reject(err);
      s.tasks.clear();
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.workerUrl);
    const slot: Slot = { worker, tasks: new Map(), solo: false, dead: false };
    worker.on("message", (reply: DecodeReply) => {
      const task = slot.tasks.get(reply.id);
      if (!task) return;
      slot.tasks.delete(reply.id);
      if (slot.tasks.size === 0) {
        slot.solo = false;
        worker.unref();
      }
      task.resolve(reply.ok ? { ok: true, data: reply.data } : { ok: false, reason: reply.reason });
      this.pump();
    });
    const died = (why: string) => {
      if (slot.dead) return;
      slot.dead = true;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      if (this.closed) return;
      this.crashes++;
      const held = [...slot.tasks.values()];
      slot.tasks.clear();
      if (held.length === 1 && held[0]!.solo) {
        // it died alone with this file: the file is what kills it
        held[0]!.resolve({
          ok: false,
          reason: `the decoder crashed on this file (${why}); its worker was replaced`,
        });
      } else {
        for (const t of held) {
          t.solo = true;
          this.queues.solo.push(t);
        }
      }
      this.pump();
    };
    worker.on("error", (err) => died(`worker error: ${err.message}`));
    worker.on("exit", (code) => died(`worker exited with code ${code}`));
    worker.unref();
    this.slots.push(slot);
    return slot;
  }

  private assign(slot: Slot, task: Task): void {
    slot.tasks.set(task.id, task);
    if (task.solo) slot.solo = true;
    slot.worker.ref();
    slot.worker.postMessage({ ...task.job, id: task.id } satisfies DecodeRequest);
  }

  /** Hands queued tasks to workers with room, starting workers up to `size`. */
  private pump(): void {
    if (this.closed) return;
    // solo tasks: each on a fresh, empty worker
    while (this.queues.solo.length > 0) {
      const idle = this.slots.find((s) => s.tasks.size === 0 && !s.dead);
      if (idle) this.assign(idle, this.queues.solo.shift()!);
      else if (this.slots.length < this.size) this.assign(this.spawn(), this.queues.solo.shift()!);
      else break;
    }
    if (this.queues.solo.length > 0) return; // wait for a worker to drain
    for (const q of [this.queues.now, this.queues.later]) {
      while (q.length > 0) {
        let slot = this.slots
          .filter((s) => !s.solo && !s.dead && s.tasks.size < this.perWorker)
          .sort((a, b) => a.tasks.size - b.tasks.size)[0];
        if (!slot || (slot.tasks.size > 0 && this.slots.length < this.size)) {
          if (this.slots.length < this.size) slot = this.spawn();
        }
        if (!slot) return;
        this.assign(slot, q.shift()!);
      }
    }
  }
}
