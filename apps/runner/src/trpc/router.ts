/**
 * The control API (tRPC): submit, cancel, list, get, and live progress as an SSE subscription.
 * Every input is a zod schema (the run config is the same schema `selfsup train` validates), so a
 * bad call is refused with BAD_REQUEST naming the field, before anything runs. Every procedure
 * requires the token when the server has one (UNAUTHORIZED, HTTP 401).
 */
import type { Registry } from "@selfsup/core";
import { RUN_STATUSES, type RunFilter, type RunStore, StoreError } from "@selfsup/store";
import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";
import { ConfigError, runConfigSchema } from "../config.js";
import type { RunQueue } from "../queue.js";
import { cancelRun, submitRun, validateForQueue } from "../run/submit.js";
import { startQueuedSweep, stopSweep } from "../sweep/control.js";
import { parseSweepFile } from "../sweep/spec.js";
import {
  type ProgressUpdate,
  type RunDetailDto,
  type RunDto,
  toCheckpointDto,
  toEvaluationDto,
  toRunDto,
} from "./dto.js";

export interface ControlContext {
  store: RunStore;
  registry: Registry;
  /** The pg-boss queue; absent when the store is an embedded PGlite (submit is then refused). */
  queue: RunQueue | undefined;
  /** False when the server has a token and the request did not carry it. */
  authorized: boolean;
}

const t = initTRPC.context<ControlContext>().create({
  // Stack traces (absolute paths, internals) go to clients only in development; tRPC's default
  // sends them whenever NODE_ENV is not "production", which a CLI-started server never sets.
  isDev: process.env.NODE_ENV === "development",
  sse: { ping: { enabled: true, intervalMs: 5_000 }, client: { reconnectAfterInactivityMs: 15_000 } },
});

const authed = t.procedure.use(({ ctx, next }) => {
  if (!ctx.authorized) {
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message: "missing or wrong token: send `Authorization: Bearer <SELFSUP_TOKEN>`",
    });
  }
  return next();
});

const runId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be a run id (1-64 characters of A-Z a-z 0-9 _ -)");
const TERMINAL = new Set(["finished", "failed", "interrupted", "cancelled"]);

export const submitInput = z.strictObject({
  config: runConfigSchema,
  notes: z.string().max(10_000).optional(),
});

export const listInput = z
  .strictObject({
    status: z.array(z.enum(RUN_STATUSES)).max(RUN_STATUSES.length).optional(),
    method: z.string().min(1).max(200).optional(),
    dataset: z.string().min(1).max(200).optional(),
    tag: z.string().min(1).max(64).optional(),
    search: z.string().max(200).optional(),
    first: z.number().int().min(1).max(500).default(50),
    after: z.string().max(2000).nullish(),
    orderBy: z
      .strictObject({
        field: z.union([
          z.enum(["created_at", "name", "started_at", "finished_at"]),
          z.templateLiteral(["summary:", z.string().regex(/^[A-Za-z0-9_.:/@-]{1,128}$/)]),
        ]),
        direction: z.enum(["asc", "desc"]).default("desc"),
      })
      .optional(),
  })
  .default({ first: 50 });

export const progressInput = z.strictObject({
  id: runId,
  /** How often the store is polled (ms). */
  intervalMs: z.number().int().min(100).max(10_000).default(1_000),
});

/** Store errors become tRPC errors with the matching code. */
function mapError(err: unknown): never {
  if (err instanceof TRPCError) throw err;
  if (err instanceof ConfigError)
    throw new TRPCError({ code: "BAD_REQUEST", message: err.message, cause: err });
  if (err instanceof StoreError) {
    const code =
      err.code === "not_found" ? "NOT_FOUND" : err.code === "conflict" ? "CONFLICT" : "BAD_REQUEST";
    throw new TRPCError({ code, message: err.message, cause: err });
  }
  throw err;
}

async function progressSnapshot(store: RunStore, id: string): Promise<ProgressUpdate> {
  const run = await store.getRun(id);
  if (!run) throw new TRPCError({ code: "NOT_FOUND", message: `no run with id ${id}` });
  const step = await store.lastMetricStep(id);
  const metrics: Record<string, number> = {};
  if (step !== null) {
    const keys = (await store.metricKeys(id)).slice(0, 50);
    if (keys.length > 0) {
      const series = await store.readSeries(id, keys, { range: { from: step, to: step }, maxPoints: 2 });
      for (const s of series) {
        const p = s.points.at(-1);
        if (p) metrics[s.key] = p.y;
      }
    }
  }
  return {
    runId: id,
    status: run.status,
    step,
    metrics,
    heartbeatAt: run.heartbeatAt ? run.heartbeatAt.toISOString() : null,
    summary: run.summary,
    error: run.error,
    done: TERMINAL.has(run.status),
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export const appRouter = t.router({
  /** Queues a run for the workers; returns the queued run. */
  submit: authed.input(submitInput).mutation(async ({ ctx, input }): Promise<RunDto> => {
    if (!ctx.queue) {
      throw new TRPCError({
        code: "PRECONDITION_FAILED",
        message:
          "this server has no queue: start `selfsup serve` with DATABASE_URL=postgres://... (the shared PostgreSQL the workers read)",
      });
    }
    try {
      const config = validateForQueue(input.config, ctx.registry);
      const run = await submitRun(
        ctx.store,
        ctx.queue,
        ctx.registry,
        config,
        input.notes ? { notes: input.notes } : {},
      );
      return toRunDto(run);
    } catch (err) {
      return mapError(err);
    }
  }),

  /** Cancels a queued or running run (a running one stops at its next step); an ended run is returned unchanged. */
  cancel: authed.input(z.strictObject({ id: runId })).mutation(async ({ ctx, input }): Promise<RunDto> => {
    try {
      return toRunDto(await cancelRun(ctx.store, ctx.queue, input.id));
    } catch (err) {
      return mapError(err);
    }
  }),

  /** A page of runs, newest first by default; pass `after: pageInfo.endCursor` for the next. */
  list: authed.input(listInput).query(async ({ ctx, input }) => {
    const filter: RunFilter = {
      ...(input.status ? { status: input.status } : {}),
      ...(input.method ? { method: input.method } : {}),
      ...(input.dataset ? { dataset: input.dataset } : {}),
      ...(input.tag ? { tag: input.tag } : {}),
      ...(input.search ? { search: input.search } : {}),
    };
    try {
      const page = await ctx.store.listRuns({
        filter,
        first: input.first,
        after: input.after ?? null,
        ...(input.orderBy ? { orderBy: input.orderBy } : {}),
      });
      return { runs: page.runs.map(toRunDto), pageInfo: page.pageInfo };
    } catch (err) {
      return mapError(err);
    }
  }),

  /** One run with its evaluations, checkpoints and last step. */
  get: authed.input(z.strictObject({ id: runId })).query(async ({ ctx, input }): Promise<RunDetailDto> => {
    try {
      const run = await ctx.store.getRun(input.id);
      if (!run) throw new TRPCError({ code: "NOT_FOUND", message: `no run with id ${input.id}` });
      const [evaluations, checkpoints, lastStep, metricKeys] = await Promise.all([
        ctx.store.getEvaluations(run.id),
        ctx.store.listCheckpoints(run.id),
        ctx.store.lastMetricStep(run.id),
        ctx.store.metricKeys(run.id),
      ]);
      return {
        run: toRunDto(run),
        evaluations: evaluations.map(toEvaluationDto),
        checkpoints: checkpoints.map(toCheckpointDto),
        lastStep,
        metricKeys,
      };
    } catch (err) {
      return mapError(err);
    }
  }),

  /**
   * Live progress of a run: an update whenever its status or last step changes (read from the
   * store, so it works whichever worker or host trains the run), ending after the terminal status.
   */
  progress: authed.input(progressInput).subscription(async function* ({
    ctx,
    input,
    signal,
  }): AsyncGenerator<ProgressUpdate, void, unknown> {
    let last = "";
    for (;;) {
      const update = await progressSnapshot(ctx.store, input.id);
      const key = `${update.status}:${update.step}`;
      if (key !== last) {
        last = key;
        yield update;
      }
      if (update.done || signal?.aborted) return;
      await sleep(input.intervalMs, signal);
      if (signal?.aborted) return;
    }
  }),

  /**
   * Starts a sweep (the object a `selfsup sweep` file holds): validated like the CLI does, stored,
   * and coordinated by this server, its runs queued for the workers. Needs the queue.
   */
  sweepStart: authed
    .input(z.strictObject({ sweep: z.record(z.string(), z.unknown()) }))
    .mutation(async ({ ctx, input }) => {
      if (!ctx.queue)
        throw new TRPCError({
          code: "PRECONDITION_FAILED",
          message: "this server has no queue: sweeps run on workers through DATABASE_URL=postgres://...",
        });
      try {
        const sweep = await startQueuedSweep(ctx.store, ctx.registry, ctx.queue, parseSweepFile(input.sweep));
        return { id: sweep.id, name: sweep.name, status: sweep.status };
      } catch (err) {
        return mapError(err);
      }
    }),

  /** Stops a running sweep: no new trials, its queued and running runs cancelled. */
  sweepStop: authed
    .input(z.strictObject({ id: z.string().min(1).max(200) }))
    .mutation(async ({ ctx, input }) => {
      try {
        const { sweep, cancelled } = await stopSweep(ctx.store, ctx.queue, input.id);
        return { id: sweep.id, name: sweep.name, status: sweep.status, cancelled };
      } catch (err) {
        return mapError(err);
      }
    }),
});

export type AppRouter = typeof appRouter;
