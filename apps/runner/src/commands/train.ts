/** `selfsup train` and `selfsup resume`: run training in this process, against the local store. */
import os from "node:os";
import { initBackend, type Registry } from "@selfsup/core";
import type { RunStore } from "@selfsup/store";
import {
  asConfigError,
  ConfigError,
  loadRunConfig,
  parseStoredRunConfig,
  type RunConfig,
  type RunFlags,
  resolveRunConfig,
} from "../config.js";
import { CliError, EXIT, type ExitCode } from "../exit-codes.js";
import { loadRegistry } from "../plugins.js";
import { chooseReporter, createReporter, fmtDuration } from "../progress/reporters.js";
import { loadDataset } from "../run/dataset.js";
import { type ExecuteRunResult, executeRun } from "../run/execute.js";
import { findRun } from "../run/find-run.js";
import { PreflightError, preflight, unknownOptionProblems } from "../run/preflight.js";
import { resolveRequiredCheckpoints } from "../run/requires.js";
import { stopOnSignals } from "../run/signals.js";
import { openRunnerStore, staleAfterMs } from "../store.js";

export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
}

export function exitCodeFor(status: ExecuteRunResult["status"]): ExitCode {
  if (status === "finished") return EXIT.ok;
  if (status === "interrupted" || status === "cancelled") return EXIT.interrupted;
  return EXIT.failure;
}

/** The registry, with plugin load failures printed as warnings. */
export async function registryWithWarnings(): Promise<Registry> {
  const { registry, failures } = await loadRegistry();
  // A plugin that never finished loading may still run its code later: stop rather than carry on.
  const hung = failures.filter((f) => f.timedOut);
  if (hung.length > 0) {
    throw new CliError(
      hung.map((f) => `plugin ${f.packageName} (${f.dir}) failed to load: ${f.error}`).join("\n"),
      EXIT.usage,
    );
  }
  for (const f of failures)
    process.stderr.write(`warning: plugin ${f.packageName} (${f.dir}) failed to load: ${f.error}\n`);
  return registry;
}

/** Validates names and options; a RegistryError becomes a ConfigError (exit 2). */
export function resolveOrThrow(
  config: RunConfig,
  registry: Registry,
  input?: Parameters<typeof resolveRunConfig>[2],
) {
  try {
    return resolveRunConfig(config, registry, input);
  } catch (err) {
    throw asConfigError(err);
  }
}

/** Runs `runId` here with signals and a reporter; returns the exit code. */
async function runHere(
  store: RunStore,
  registry: Registry,
  runId: string,
  out: OutputFlags,
  extra: { resume?: boolean; dataset?: Awaited<ReturnType<typeof loadDataset>> } = {},
): Promise<ExitCode> {
  const reporter = createReporter(chooseReporter(out));
  const stops = stopOnSignals((sig) => {
    reporter.close();
    if (!out.json)
      process.stderr.write(
        `\n${sig}: stopping after this step (checkpoint, then exit; ${sig} again to exit at once)\n`,
      );
  });
  try {
    const result = await executeRun({
      store,
      registry,
      runId,
      signal: stops.signal,
      onProgress: reporter.sink,
      ...(extra.resume ? { resume: true } : {}),
      ...(extra.dataset ? { dataset: extra.dataset } : {}),
    });
    return exitCodeFor(result.status);
  } finally {
    reporter.close();
    stops.dispose();
  }
}

export interface TrainOptions extends RunFlags, OutputFlags {
  config?: string;
  dryRun?: boolean;
}

export async function trainCommand(opts: TrainOptions): Promise<number> {
  const registry = await registryWithWarnings();
  let config = await loadRunConfig(opts.config, opts);
  // Before the options are parsed (which drops keys a plugin does not know).
  const typos = unknownOptionProblems(registry, config);
  if (typos.length > 0) throw new PreflightError(`invalid run config:\n  ${typos.join("\n  ")}`);
  config = resolveOrThrow(config, registry);
  const dataset = await loadDataset(registry, config.dataset).catch((err: unknown) => {
    throw new CliError((err as Error).message, EXIT.failure);
  });
  config = resolveOrThrow(config, registry, dataset.input);
  // Options naming another run's checkpoint (BEiT's tokenizer) become that checkpoint's directory.
  config = await resolveRequiredCheckpoints(registry, config, {
    warn: (m) => process.stderr.write(`warning: ${m}\n`),
  });
  // Everything that can be checked before the first step, before a run row exists.
  await initBackend(config.backend);
  await preflight(registry, config, dataset);
  if (opts.dryRun) {
    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return EXIT.ok;
  }
  const method = registry.get("method", config.method.name);
  const store = await openRunnerStore();
  try {
    const run = await store.createRun({
      ...(config.name ? { name: config.name } : {}),
      method: config.method.name,
      family: method.family,
      backbone: config.backbone?.name ?? null,
      dataset: config.dataset.name,
      host: os.hostname(),
      config,
      status: "running",
      tags: config.tags,
    });
    return await runHere(store, registry, run.id, opts, { dataset });
  } finally {
    await store.close();
  }
}

export interface ResumeOptions extends OutputFlags {
  force?: boolean;
}

export async function resumeCommand(idOrName: string, opts: ResumeOptions): Promise<number> {
  const registry = await registryWithWarnings();
  const store = await openRunnerStore();
  try {
    const run = await findRun(store, idOrName);
    if (run.status === "finished")
      throw new CliError(`run ${run.id} already finished; nothing to resume`, EXIT.usage);
    if (run.status === "cancelled")
      throw new CliError(`run ${run.id} was cancelled; start a new one instead`, EXIT.usage);
    if (run.status === "running" && !opts.force) {
      const age = run.heartbeatAt ? (Date.now() - run.heartbeatAt.getTime()) / 1000 : Number.NaN;
      throw new CliError(
        `run ${run.id} is still marked running on ${run.host ?? "an unknown host"} (last heartbeat ${fmtDuration(age)} ago). ` +
          `If its process is gone, it is marked failed after ${fmtDuration(staleAfterMs() / 1000)} without a heartbeat; or resume now with --force`,
        EXIT.failure,
      );
    }
    // The stored config was validated when the run was created; check it against today's plugins.
    try {
      resolveRunConfig(parseStoredRunConfig(run.config, run.id), registry);
    } catch (err) {
      const e = asConfigError(err);
      if (e instanceof ConfigError)
        throw new CliError(
          `run ${run.id} cannot be resumed with the installed plugins:\n${e.message}`,
          EXIT.usage,
        );
      throw e;
    }
    return await runHere(store, registry, run.id, opts, { resume: true });
  } finally {
    await store.close();
  }
}
