/**
 * The run queue on pg-boss, in the shared PostgreSQL (DATABASE_URL). `submit` puts a queued run's
 * id on the queue; `selfsup worker` processes take jobs one at a time. The run row in the store is
 * the source of truth for status; the job only says "run this id".
 *
 * Failure semantics:
 * - a run that fails while training (bad data, NaN loss, a bug) is marked failed in the store and
 *   its job is completed: retrying a deterministic failure would only fail again;
 * - a worker that dies (kill -9, lost host) stops heartbeating its job; pg-boss retries it after
 *   `heartbeatSeconds` (up to `retryLimit` times) and the next worker resumes the run from its last
 *   checkpoint; the store's stale-heartbeat sweep marks the run failed if no retry is left;
 * - a worker shut down with SIGINT/SIGTERM checkpoints the run and fails the job, so another
 *   worker resumes it.
 *
 * Each job's id is derived from its run id (`jobIdFor`), so a cancel can find the job.
 */
import { createHash } from "node:crypto";
import type { Job, PgBoss as PgBossType, QueueOptions, WorkOptions } from "pg-boss";
import * as pgBossModule from "pg-boss";

/** pg-boss 12 exports the class as `PgBoss`; older builds as the default export. */
const PgBoss: typeof PgBossType =
  (pgBossModule as unknown as { PgBoss?: typeof PgBossType }).PgBoss ??
  (pgBossModule as unknown as { default: typeof PgBossType }).default;

export const RUN_QUEUE = "selfsup-runs";

export interface RunJobData {
  runId: string;
}

export interface QueueConfig {
  /** postgres:// URL of the shared database. */
  url: string;
  /** pg-boss' schema (default "pgboss"); tests use their own. */
  schema?: string;
  /** Retries after a worker died, was shut down or an attempt timed out (default 3). */
  retryLimit?: number;
  /** A job whose worker stops heartbeating for this long is retried (pg-boss minimum 10; default 30). */
  heartbeatSeconds?: number;
  /**
   * Longest time one attempt may run (pg-boss caps it at 24 h; default 24 h). An attempt that
   * reaches it is stopped at a checkpoint and retried, so a longer run continues in the next one.
   */
  expireInSeconds?: number;
  /** Connection pool size of pg-boss (default 4). */
  max?: number;
  /** How often this instance looks for jobs whose worker stopped heartbeating (default 15 s). */
  superviseIntervalSeconds?: number;
}

/** SELFSUP_QUEUE_HEARTBEAT_SECONDS sets the job heartbeat of a newly created queue (min 10). */
function envHeartbeat(): number | undefined {
  const v = Number(process.env.SELFSUP_QUEUE_HEARTBEAT_SECONDS);
  return Number.isFinite(v) && v >= 10 ? Math.floor(v) : undefined;
}

/** A deterministic UUID for a run's job, so cancel and lookups need no extra column. */
export function jobIdFor(runId: string): string {
  const h = createHash("sha256").update(`selfsup-run:${runId}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x80; // version 8 (custom)
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url);
}

export class RunQueue {
  private constructor(
    readonly boss: PgBossType,
    private readonly options: Required<
      Omit<QueueConfig, "url" | "schema" | "max" | "superviseIntervalSeconds">
    >,
  ) {}

  /** Starts pg-boss (installing its schema if needed) and makes sure the run queue exists. */
  static async open(config: QueueConfig): Promise<RunQueue> {
    const boss = new PgBoss({
      connectionString: config.url,
      ...(config.schema ? { schema: config.schema } : {}),
      max: config.max ?? 4,
      application_name: "selfsup",
      superviseIntervalSeconds: config.superviseIntervalSeconds ?? 15,
    });
    const errors: Error[] = [];
    boss.on("error", (err: Error) => {
      errors.push(err);
      if (process.env.SELFSUP_DEBUG) process.stderr.write(`pg-boss: ${err.message}\n`);
    });
    await boss.start();
    const queue = new RunQueue(boss, {
      retryLimit: config.retryLimit ?? 3,
      heartbeatSeconds: Math.max(10, config.heartbeatSeconds ?? envHeartbeat() ?? 30),
      expireInSeconds: Math.min(config.expireInSeconds ?? 24 * 3600, 24 * 3600),
    });
    await queue.ensureQueue();
    return queue;
  }

  private async ensureQueue(): Promise<void> {
    const opts: QueueOptions = {
      retryLimit: this.options.retryLimit,
      retryDelay: 1,
      heartbeatSeconds: this.options.heartbeatSeconds,
      expireInSeconds: this.options.expireInSeconds,
    };
    const existing = await this.boss.getQueue(RUN_QUEUE);
    if (!existing) {
      try {
        await this.boss.createQueue(RUN_QUEUE, opts);
      } catch (err) {
        // Two processes creating it at once: the loser finds it there.
        if (!(await this.boss.getQueue(RUN_QUEUE))) throw err;
      }
    }
  }

  /** Puts a run on the queue. Idempotent per run id (the job id is derived from it). */
  async submit(runId: string): Promise<string> {
    const id = jobIdFor(runId);
    await this.boss.send(RUN_QUEUE, { runId } satisfies RunJobData, { id });
    return id;
  }

  /** Cancels the run's job if it has not ended; a worker running it sees its job signal abort. */
  async cancel(runId: string): Promise<void> {
    try {
      await this.boss.cancel(RUN_QUEUE, jobIdFor(runId));
    } catch {
      // no such job, or already completed: the store's status is what counts
    }
  }

  async job(runId: string) {
    return this.boss.getJobById<RunJobData>(RUN_QUEUE, jobIdFor(runId));
  }

  /**
   * Takes jobs one at a time (batchSize 1, localConcurrency 1) and calls `handler` for each. A
   * handler that throws fails the job (pg-boss retries it); one that returns completes it.
   */
  async work(
    handler: (job: Job<RunJobData>) => Promise<unknown>,
    opts: { pollingIntervalSeconds?: number } = {},
  ): Promise<string> {
    const workOptions: WorkOptions = {
      batchSize: 1,
      localConcurrency: 1,
      pollingIntervalSeconds: opts.pollingIntervalSeconds ?? 2,
    };
    return this.boss.work<RunJobData>(RUN_QUEUE, workOptions, async (jobs: Job<RunJobData>[]) => {
      const results: unknown[] = [];
      for (const job of jobs) results.push(await handler(job));
      return results[0];
    });
  }

  /** Stops taking jobs and waits (up to `timeoutMs`) for the active one to settle. */
  async stop(timeoutMs = 30_000): Promise<void> {
    await this.boss.stop({ graceful: true, timeout: timeoutMs, close: true });
  }
}
