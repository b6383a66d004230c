/** `selfsup submit` and `selfsup worker`: scale-out through pg-boss on the shared PostgreSQL. */
import { loadRunConfig, type RunFlags } from "../config.js";
import { CliError, EXIT } from "../exit-codes.js";
import { chooseReporter, createReporter } from "../progress/reporters.js";
import { isPostgresUrl, RunQueue } from "../queue.js";
import { stopOnSignals } from "../run/signals.js";
import { submitRun, validateForQueue } from "../run/submit.js";
import { startWorker } from "../run/worker.js";
import { describeStore, openRunnerStore } from "../store.js";
import { registryWithWarnings } from "./train.js";

/** The shared PostgreSQL the queue lives in, or a usage error that says how to get one. */
export function requireDatabaseUrl(what: string): string {
  const url = process.env.DATABASE_URL;
  if (!isPostgresUrl(url)) {
    throw new CliError(
      `${what} needs the shared PostgreSQL that holds the queue: set DATABASE_URL=postgres://user@host:5432/db` +
        `${url ? ` (DATABASE_URL is ${JSON.stringify(describeStore(url))})` : ""}. ` +
        "An embedded PGlite database can be opened by one process only; to train here, use `selfsup train`.",
      EXIT.usage,
    );
  }
  return url;
}

export interface SubmitOptions extends RunFlags {
  config?: string;
  json?: boolean;
  notes?: string;
}

export async function submitCommand(opts: SubmitOptions): Promise<number> {
  const url = requireDatabaseUrl("submit");
  const registry = await registryWithWarnings();
  const raw = await loadRunConfig(opts.config, opts);
  const config = validateForQueue(raw, registry);
  const store = await openRunnerStore({ url, poolSize: 2 });
  let queue: RunQueue | undefined;
  try {
    queue = await RunQueue.open({ url, max: 2 });
    const run = await submitRun(store, queue, registry, config, opts.notes ? { notes: opts.notes } : {});
    if (opts.json)
      process.stdout.write(`${JSON.stringify({ id: run.id, name: run.name, status: run.status })}\n`);
    else process.stdout.write(`queued run ${run.id} (${run.name}); a \`selfsup worker\` will take it\n`);
    return EXIT.ok;
  } finally {
    await queue?.stop(1000).catch(() => {});
    await store.close();
  }
}

export interface WorkerCommandOptions {
  maxRuns?: string;
  poll?: string;
  json?: boolean;
  quiet?: boolean;
}

export async function workerCommand(opts: WorkerCommandOptions): Promise<number> {
  const url = requireDatabaseUrl("worker");
  const maxRuns = opts.maxRuns === undefined ? undefined : Number(opts.maxRuns);
  if (maxRuns !== undefined && (!Number.isInteger(maxRuns) || maxRuns < 1))
    throw new CliError(`--max-runs: must be an integer >= 1 (got ${opts.maxRuns})`, EXIT.usage);
  const poll = opts.poll === undefined ? 2 : Number(opts.poll);
  if (!Number.isFinite(poll) || poll < 0.5)
    throw new CliError(`--poll: must be a number of seconds >= 0.5 (got ${opts.poll})`, EXIT.usage);

  const registry = await registryWithWarnings();
  const store = await openRunnerStore({ url, poolSize: 4 });
  const reporter = createReporter(chooseReporter(opts));
  const log = (line: string) => {
    if (opts.json)
      process.stdout.write(
        `${JSON.stringify({ type: "worker", message: line, time: new Date().toISOString() })}\n`,
      );
    else if (!opts.quiet) process.stderr.write(`${new Date().toISOString()} ${line}\n`);
  };
  const stops = stopOnSignals((sig) =>
    log(`${sig}: stopping (the current run checkpoints and goes back to the queue)`),
  );
  let interrupted = false;
  stops.signal.addEventListener("abort", () => {
    interrupted = true;
  });
  let queue: RunQueue | undefined;
  try {
    queue = await RunQueue.open({ url });
    log(`worker started on ${describeStore(url)}, queue ${"selfsup-runs"}`);
    const worker = await startWorker({
      store,
      queue,
      registry,
      signal: stops.signal,
      onProgress: reporter.sink,
      log,
      ...(maxRuns !== undefined ? { maxRuns } : {}),
      pollingIntervalSeconds: poll,
    });
    const { runs } = await worker.done;
    log(`worker stopped after ${runs} run(s)`);
    return interrupted ? EXIT.interrupted : EXIT.ok;
  } finally {
    reporter.close();
    stops.dispose();
    await queue?.stop(1000).catch(() => {});
    await store.close();
  }
}
