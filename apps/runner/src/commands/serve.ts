/** `selfsup serve`: the tRPC control API (and optionally a worker) in one process. */
import { CliError, EXIT } from "../exit-codes.js";
import { chooseReporter, createReporter } from "../progress/reporters.js";
import { isPostgresUrl, RunQueue } from "../queue.js";
import { stopOnSignals } from "../run/signals.js";
import { startWorker, type WorkerHandle } from "../run/worker.js";
import { describeStore, openRunnerStore } from "../store.js";
import { checkBind, DEFAULT_PORT, ServeConfigError, startControlServer } from "../trpc/server.js";
import { registryWithWarnings } from "./train.js";

export interface ServeOptions {
  host?: string;
  port?: string;
  withWorker?: boolean;
  json?: boolean;
}

export async function serveCommand(opts: ServeOptions): Promise<number> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port === undefined ? DEFAULT_PORT : Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`--port: must be an integer in 0..65535 (got ${opts.port})`, EXIT.usage);
  const token = process.env.SELFSUP_TOKEN || undefined;
  try {
    checkBind(host, token);
  } catch (err) {
    if (err instanceof ServeConfigError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
  const url = process.env.DATABASE_URL;
  if (opts.withWorker && !isPostgresUrl(url)) {
    throw new CliError(
      "--with-worker needs DATABASE_URL=postgres://... (the queue lives in PostgreSQL)",
      EXIT.usage,
    );
  }
  const log = (line: string) => {
    if (opts.json)
      process.stdout.write(
        `${JSON.stringify({ type: "serve", message: line, time: new Date().toISOString() })}\n`,
      );
    else process.stderr.write(`${line}\n`);
  };

  const registry = await registryWithWarnings();
  const store = await openRunnerStore();
  let queue: RunQueue | undefined;
  let worker: WorkerHandle | undefined;
  const stops = stopOnSignals(() => log("stopping"));
  try {
    if (isPostgresUrl(url)) queue = await RunQueue.open({ url });
    const server = await startControlServer({
      store,
      registry,
      ...(queue ? { queue } : {}),
      host,
      port,
      ...(token ? { token } : {}),
    });
    log(`selfsup control API on ${server.url} (${token ? "token required" : "no token: loopback only"})`);
    log(
      `store: ${describeStore()}; ${queue ? "submit queues runs on pg-boss" : "no queue (set DATABASE_URL=postgres://... to accept submit)"}`,
    );
    if (opts.withWorker && queue) {
      const reporter = createReporter(opts.json ? "json" : chooseReporter({}));
      worker = await startWorker({
        store,
        queue,
        registry,
        signal: stops.signal,
        onProgress: reporter.sink,
        log,
      });
    }
    await new Promise<void>((resolve) =>
      stops.signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    await server.close();
    await worker?.done;
    return EXIT.ok;
  } finally {
    stops.dispose();
    await queue?.stop(1000).catch(() => {});
    await store.close();
  }
}
