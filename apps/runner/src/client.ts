/**
 * The typed client of the control API, for the dashboard and scripts:
 *
 *   import { createControlClient } from "@selfsup/runner/client";
 *   const api = createControlClient({ url: "http://127.0.0.1:7373/trpc", token: process.env.SELFSUP_TOKEN });
 *   const run = await api.submit.mutate({ config: { method: { name: "simclr" }, dataset: { name: "mnist" } } });
 *   api.progress.subscribe({ id: run.id }, { onData: (u) => console.log(u.step, u.metrics.loss) });
 *
 * Queries and mutations go over HTTP (batched), with the token as `Authorization: Bearer`;
 * `progress` is a server-sent-events subscription (the token travels as a connection param, since
 * EventSource cannot set headers). This module imports nothing of the server (types only).
 */
import {
  createTRPCClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClient,
} from "@trpc/client";
import { EventSource as EventSourcePolyfill } from "eventsource";
import { MAX_BATCH_SIZE } from "./trpc/limits.js";
import type { AppRouter } from "./trpc/router.js";

export type { CheckpointDto, EvaluationDto, ProgressUpdate, RunDetailDto, RunDto } from "./trpc/dto.js";
export type { AppRouter };

export interface ControlClientOptions {
  /** The tRPC endpoint, e.g. http://127.0.0.1:7373/trpc (what `selfsup serve` prints). */
  url: string;
  /** SELFSUP_TOKEN of the server, when it has one. */
  token?: string;
}

export type ControlClient = TRPCClient<AppRouter>;

export function createControlClient(opts: ControlClientOptions): ControlClient {
  const token = opts.token;
  const EventSourceImpl =
    (globalThis as unknown as { EventSource?: typeof EventSourcePolyfill }).EventSource ??
    EventSourcePolyfill;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url: opts.url,
          EventSource: EventSourceImpl,
          ...(token ? { connectionParams: { token } } : {}),
        }),
        false: httpBatchLink({
          url: opts.url,
          maxItems: MAX_BATCH_SIZE,
          headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
        }),
      }),
    ],
  });
}
