#!/usr/bin/env node
/**
 * The `selfsup` command line. Each command lives in src/commands/; this file only wires them.
 * Exit codes: 0 ok, 1 failure, 2 bad config or usage, 130 interrupted (see exit-codes.ts).
 */
import path from "node:path";
import { BACKEND_NAMES, type BackendRequest, OPTIMIZER_NAMES, RegistryError } from "@selfsup/core";
import { StoreError } from "@selfsup/store";
import { Command, CommanderError, Option } from "commander";
import { ConfigError } from "./config.js";
import { CliError, EXIT } from "./exit-codes.js";

const program = new Command();
program
  .name("selfsup")
  .description("Self-supervised learning in TypeScript: train, evaluate and track runs")
  .showHelpAfterError()
  .exitOverride()
  .addHelpText(
    "after",
    `
Environment:
  SELFSUP_HOME      where runs and the embedded database live (default ./.selfsup)
  DATABASE_URL      postgres://... to use a shared PostgreSQL instead of the embedded PGlite
  SELFSUP_BACKEND   force a tensor backend (${BACKEND_NAMES.join(", ")})
  SELFSUP_WEBGPU_DIR where \`selfsup backend add webgpu\` installs (default $SELFSUP_HOME/webgpu)
  SELFSUP_WASM_THREADS wasm threads (default: per machine, see \`selfsup list\`)
  SELFSUP_PLUGINS   extra plugin modules to load (comma-separated paths or package names)
  SELFSUP_TOKEN     token for \`selfsup serve\` (required when not bound to 127.0.0.1)

Exit codes: 0 ok, 1 failure, 2 bad config or usage, 130 interrupted.`,
  );

const collect = (value: string, previous: string[] = []) => [...previous, value];
const backendOption = (withDefault = true) => {
  const o = new Option("--backend <name>", "tensor backend (SELFSUP_BACKEND overrides)").choices(
    BACKEND_NAMES,
  );
  return withDefault ? o.default("auto") : o;
};

/** Flags shared by `train` and `submit` that set run config fields (they win over the file). */
function addRunFlags(cmd: Command): Command {
  return cmd
    .option("-m, --method <name>", "method (selfsup list shows the installed ones)")
    .option("-d, --dataset <name>", "dataset")
    .option("--backbone <name>", "backbone (default: the method's choice for the dataset)")
    .option("--limit <n>", "use only the first N samples of each split")
    .option("-e, --epochs <n>", "epochs (default 1)")
    .option("--max-steps <n>", "stop after N optimizer steps")
    .option("-b, --batch-size <n>", "batch size (default 64)")
    .option("--lr <x>", "peak learning rate: training.optimizer.lr (default 1e-3)")
    .addOption(
      new Option("--optimizer <name>", "training.optimizer.name (default adam)").choices([
        ...OPTIMIZER_NAMES,
      ]),
    )
    .option("--weight-decay <x>", "training.optimizer.weightDecay")
    .option("--warmup <steps>", "linear warmup steps: training.schedule.warmupSteps")
    .option("--seed <n>", "random seed (default 0)")
    .option(
      "--aux <method[:weight]>",
      "auxiliary task on the same backbone, e.g. rotation:0.5 (repeatable)",
      collect,
    )
    .addOption(backendOption(false))
    .option("--name <name>", "run name (default <method>-<dataset>-<id suffix>)")
    .option("--tag <tag>", "tag the run (repeatable)", collect)
    .option(
      "--set <field=value>",
      "set any config field, e.g. --set training.optimizer.beta2=0.99 (repeatable)",
      collect,
    );
}

program
  .command("list")
  .description("list installed plugins, methods, backbones, datasets, and the backend that would be used")
  .addOption(backendOption())
  .option("--json", "machine-readable output")
  .action(async (opts: { backend: BackendRequest; json?: boolean }) => {
    const { listCommand } = await import("./commands/list.js");
    process.exitCode = await listCommand(opts);
  });

addRunFlags(
  program
    .command("train")
    .description("train a model here, storing the run, its metrics and checkpoints")
    .argument("[config]", "YAML or JSON run config (flags override its fields)"),
)
  .option("--json", "print progress as JSON lines on stdout")
  .option("-q, --quiet", "no progress output")
  .option("--dry-run", "validate and print the resolved config, do not train")
  .addHelpText(
    "after",
    `
Examples:
  selfsup train --method simclr --dataset mnist --epochs 1
  selfsup train run.yaml --limit 512 --tag quick
  selfsup train run.yaml --set method.options.temperature=0.2 --json`,
  )
  .action(async (config: string | undefined, opts: Record<string, unknown>) => {
    const { trainCommand } = await import("./commands/train.js");
    process.exitCode = await trainCommand({ ...opts, ...(config ? { config } : {}) });
  });

program
  .command("resume")
  .description("continue a failed or interrupted run from its last checkpoint")
  .argument("<run>", "run id or name")
  .option("--force", "resume even if the run still looks alive (its process is known to be gone)")
  .option("--json", "print progress as JSON lines on stdout")
  .option("-q, --quiet", "no progress output")
  .action(async (run: string, opts: { force?: boolean; json?: boolean; quiet?: boolean }) => {
    const { resumeCommand } = await import("./commands/train.js");
    process.exitCode = await resumeCommand(run, opts);
  });

program
  .command("runs")
  .description("the run history (newest first)")
  .option("-s, --status <status>", "only runs with this status (repeatable or comma-separated)", collect)
  .option("-m, --method <name>", "only this method")
  .option("-d, --dataset <name>", "only this dataset")
  .option("--tag <tag>", "only runs with this tag")
  .option("--search <text>", "name, method or notes contain this")
  .option("-n, --limit <n>", "at most N runs (default 20)")
  .option("--sort <field>", "created, name, started, finished or summary:<key>")
  .option("--asc", "ascending order")
  .option("--after <cursor>", "the next page, after this cursor")
  .option("--json", "machine-readable output")
  .action(async (opts: Record<string, unknown>) => {
    const { runsCommand } = await import("./commands/runs.js");
    process.exitCode = await runsCommand(opts);
  });

addRunFlags(
  program
    .command("submit")
    .description("queue a run for `selfsup worker` processes (needs DATABASE_URL: the shared PostgreSQL)")
    .argument("[config]", "YAML or JSON run config (flags override its fields)"),
)
  .option("--notes <text>", "notes stored with the run")
  .option("--json", "print {id, name, status} as JSON")
  .action(async (config: string | undefined, opts: Record<string, unknown>) => {
    const { submitCommand } = await import("./commands/queue.js");
    process.exitCode = await submitCommand({ ...opts, ...(config ? { config } : {}) });
  });

program
  .command("worker")
  .description(
    "take queued runs one at a time and train them (needs DATABASE_URL); Ctrl-C checkpoints the current run and requeues it",
  )
  .option("--max-runs <n>", "exit after N runs")
  .option("--poll <seconds>", "queue polling interval (default 2)")
  .option("--json", "print progress and worker events as JSON lines on stdout")
  .option("-q, --quiet", "no progress output")
  .action(async (opts: Record<string, unknown>) => {
    const { workerCommand } = await import("./commands/queue.js");
    process.exitCode = await workerCommand(opts);
  });

const sweepCmd = program
  .command("sweep")
  .description(
    "search run configs (grid, random, TPE) with ASHA early stopping: locally (--parallel N) or, with DATABASE_URL, on `selfsup worker` processes",
  )
  .argument(
    "[file]",
    "sweep file (YAML/JSON): name, run, search, metric, parameters, seeds, budget, early_stop",
  )
  .option("--parallel <n>", "run the trials here, N processes at once (default with an embedded store: 1)")
  .option("--local", "run here even when DATABASE_URL is set")
  .option("--name <name>", "sweep name (overrides the file's)")
  .option(
    "--set <field=value>",
    "set a field of the base run config, e.g. --set training.epochs=3 (repeatable)",
    collect,
  )
  .option("--dry-run", "validate the file and print the plan, store nothing")
  .option("--poll <seconds>", "how often the coordinator looks at the store (default 1)")
  .option("--json", "print trial and run events as JSON lines on stdout")
  .option("-q, --quiet", "no progress output")
  .addHelpText(
    "after",
    `
Examples:
  selfsup sweep sweep.yaml --parallel 2
  selfsup sweep status lr-and-temperature
  selfsup sweep resume lr-and-temperature`,
  )
  .action(async (file: string | undefined, opts: Record<string, unknown>) => {
    if (!file)
      throw new CliError("sweep needs a sweep file (or a subcommand: status, stop, resume)", EXIT.usage);
    const { sweepCommand } = await import("./commands/sweep.js");
    process.exitCode = await sweepCommand(file, opts);
  });
sweepCmd
  .command("status")
  .description("a sweep's trials: parameters, status, metric")
  .argument("<sweep>", "sweep id or name")
  .option("--json", "machine-readable output")
  .action(async (sweep: string, _opts: { json?: boolean }, cmd: Command) => {
    const { sweepStatusCommand } = await import("./commands/sweep.js");
    process.exitCode = await sweepStatusCommand(sweep, cmd.optsWithGlobals());
  });
sweepCmd
  .command("stop")
  .description("stop a sweep: no new trials, its queued and running runs cancelled")
  .argument("<sweep>", "sweep id or name")
  .option("--json", "machine-readable output")
  .action(async (sweep: string, _opts: { json?: boolean }, cmd: Command) => {
    const { sweepStopCommand } = await import("./commands/sweep.js");
    process.exitCode = await sweepStopCommand(sweep, cmd.optsWithGlobals());
  });
sweepCmd
  .command("resume")
  .description("continue a sweep whose coordinator stopped (Ctrl-C, crash, kill -9) where it was")
  .argument("<sweep>", "sweep id or name")
  .option("--parallel <n>", "local sweeps: N run processes at once")
  .option("--force", "take the sweep even if its coordinator still looks alive")
  .option("--poll <seconds>", "how often the coordinator looks at the store (default 1)")
  .option("--json", "print trial and run events as JSON lines on stdout")
  .option("-q, --quiet", "no progress output")
  .action(async (sweep: string, _opts: Record<string, unknown>, cmd: Command) => {
    // the parent's --json/--parallel/--poll land on it: read them merged
    const { sweepResumeCommand } = await import("./commands/sweep.js");
    process.exitCode = await sweepResumeCommand(sweep, cmd.optsWithGlobals());
  });
sweepCmd
  .command("trial", { hidden: true })
  .argument("<run>", "run id")
  .option("--resume", "continue from the run's last checkpoint")
  .action(async (run: string, opts: { resume?: boolean }) => {
    const { sweepTrialCommand } = await import("./commands/sweep.js");
    process.exitCode = await sweepTrialCommand(run, opts);
  });

program
  .command("serve")
  .description("the tRPC control API: submit, cancel, list, get, live progress (SSE)")
  .option("--host <address>", "address to bind (default 127.0.0.1; any other needs SELFSUP_TOKEN)")
  .option("--port <n>", "port (default 7373; 0 = any free port)")
  .option("--with-worker", "also take queued runs in this process (needs DATABASE_URL)")
  .option("--json", "log as JSON lines on stdout")
  .action(async (opts: Record<string, unknown>) => {
    const { serveCommand } = await import("./commands/serve.js");
    process.exitCode = await serveCommand(opts);
  });

program
  .command("eval")
  .description("evaluate a run's encoder (its latest, best or a given checkpoint) and store the results")
  .argument("<run>", "run id or name, or a checkpoint / run directory")
  .option("--checkpoint <which>", "latest (default), best, or a checkpoint directory")
  .option(
    "-p, --protocol <name>",
    "knn, linear, few-label (repeatable or comma-separated; default knn)",
    collect,
  )
  .option("--labels-per-class <list>", "few-label: labelled examples per class, e.g. 1,10,100 (default 1,10)")
  .option("--seeds <list>", "few-label: seeds, e.g. 0,1,2 (default 0,1,2)")
  .option("-d, --dataset <name>", "evaluate on another dataset (default: the run's)")
  .option("--limit <n>", "use only the first N samples of each split")
  .option("-b, --batch-size <n>", "batch size for feature extraction")
  .option("--no-save", "do not store the results as the run's evaluations")
  .option("--json", "machine-readable output")
  .action(async (target: string, opts: Record<string, unknown>) => {
    const { evalCommand } = await import("./commands/eval.js");
    process.exitCode = await evalCommand(target, opts);
  });

program
  .command("embed")
  .description("embed a dataset with a run's encoder: Parquet, .npy (+ ids) or JSONL, by --out's extension")
  .argument("<run>", "run id or name, or a run / checkpoint directory")
  .argument("[data]", "an image folder or a text file (default: the run's dataset, or --dataset)")
  .requiredOption("-o, --out <file>", "x.parquet, x.npy (+ x.ids.jsonl) or x.jsonl")
  .option("-d, --dataset <name>", "a registered dataset (default: the run's)")
  .option("--split <name>", "train, test or all (default test)")
  .option("--checkpoint <which>", "latest (default), best, or a step number")
  .option("-b, --batch-size <n>", "samples per forward pass (default 256)")
  .option("--limit <n>", "embed only the first N samples")
  .option("--force", "replace --out if it exists")
  .addOption(backendOption())
  .option("--json", "progress and result as JSON lines on stdout")
  .option("-q, --quiet", "no progress output")
  .addHelpText(
    "after",
    `
Examples:
  selfsup embed my-run --dataset mnist --split test --out e.parquet
  selfsup embed my-run ./photos --out photos.npy`,
  )
  .action(async (target: string, data: string | undefined, opts: Record<string, unknown>) => {
    const { embedCommand } = await import("./commands/embed.js");
    process.exitCode = await embedCommand(target, data, opts);
  });

program
  .command("export")
  .description("export a run's encoder: ONNX, safetensors (named weights) or a TF.js graph model")
  .argument("<run>", "run id or name, or a run / checkpoint directory")
  .option("-f, --format <format>", "onnx (default), safetensors or tfjs")
  .option("-o, --out <path>", "output file (a folder for tfjs; default <run id>-encoder.<ext>)")
  .option("--checkpoint <which>", "latest (default), best, or a step number")
  .option("--layout <layout>", "safetensors: pytorch (default: conv OIHW, linear [out, in]) or selfsup")
  .option("--force", "replace --out if it exists")
  .addOption(backendOption())
  .option("--json", "print the result as JSON")
  .option("-q, --quiet", "no output")
  .addHelpText(
    "after",
    `
Examples:
  selfsup export my-run --format onnx --out encoder.onnx
  selfsup export my-run --format tfjs --out web-model/
  selfsup export my-run --format safetensors --out encoder.safetensors`,
  )
  .action(async (target: string, opts: Record<string, unknown>) => {
    const { exportCommand } = await import("./commands/export.js");
    process.exitCode = await exportCommand(target, opts);
  });

program
  .command("augment")
  .description("preview an augmentation pipeline: a PNG grid of samples, each followed by its views")
  .argument("[config]", "run config whose augmentations (or method's default) to show")
  .option("--preview", "write the preview PNG")
  .option("-d, --dataset <name>", "dataset")
  .option("-m, --method <name>", "show this method's default pipeline")
  .option("--limit <n>", "sample from the first N samples only")
  .option("-o, --out <file>", "PNG file to write")
  .option("--count <n>", "samples (rows; default 8)")
  .option("--views <n>", "views per sample (default 4)")
  .option("--seed <n>", "seed (default 0)")
  .option("--split <name>", "train (default) or test")
  .addOption(backendOption())
  .action(async (config: string | undefined, opts: Record<string, unknown>) => {
    const { augmentCommand } = await import("./commands/augment.js");
    process.exitCode = await augmentCommand({ ...opts, ...(config ? { config } : {}) });
  });

const backendCmd = program
  .command("backend")
  .description("tensor backends: build the native TensorFlow one, add the WebGPU one");
backendCmd
  .command("build-native")
  .description(
    "build @tensorflow/tfjs-node's binding from npm source against a local TensorFlow (pip wheel, installed tensorflow/ package or libtensorflow dir), so --backend auto picks tensorflow",
  )
  .option(
    "--tensorflow <path>",
    "tensorflow*.whl, site-packages/tensorflow, or libtensorflow dir (default: SELFSUP_TENSORFLOW, then python3's tensorflow)",
  )
  .option("--dir <dir>", "install prefix (default: SELFSUP_NATIVE_DIR, else $SELFSUP_HOME/native)")
  .option("--gpu", "build @tensorflow/tfjs-node-gpu, for a CUDA build of TensorFlow (unverified here)")
  .option("--nodedir <dir>", "directory with include/node (default: this Node's prefix)")
  .action(async (opts: { tensorflow?: string; dir?: string; gpu?: boolean; nodedir?: string }) => {
    const { buildNativeCommand } = await import("./commands/backend.js");
    process.exitCode = await buildNativeCommand(opts);
  });

backendCmd
  .command("add")
  .argument("<name>", "webgpu: Dawn (the webgpu npm package) and @tensorflow/tfjs-backend-webgpu")
  .description(
    "install an optional backend's packages from the npm registry into their own prefix (webgpu: ~135 MB, Dawn for every platform), then report the adapter",
  )
  .option("--dir <dir>", "install prefix (default: SELFSUP_WEBGPU_DIR, else $SELFSUP_HOME/webgpu)")
  .action(async (name: string, opts: { dir?: string }) => {
    const { addBackendCommand } = await import("./commands/backend.js");
    process.exitCode = await addBackendCommand(name, opts);
  });

program
  .command("bench")
  .description("run @selfsup/bench's benchmarks (speed per method and backend, quality with few labels)")
  .argument(
    "[args...]",
    "section names (e.g. throughput), --backend <name>, --only <sections>, --epochs <n>, --quick (after --)",
  )
  .allowUnknownOption()
  .action(async (args: string[]) => {
    const { benchCommand } = await import("./commands/bench.js");
    process.exitCode = await benchCommand(args);
  });

program
  .command("quickstart")
  .description(
    "pretrain SimCLR on the MNIST digits (~3 min on wasm), then compare its 10-label probe and kNN with raw pixels and a random encoder",
  )
  .option("-m, --method <name>", "method to pretrain (default simclr)")
  .option("-e, --epochs <n>", "epochs (default 5)")
  .option("--limit <n>", "use only the first N digits of each split")
  .option("-q, --quiet", "no progress output")
  .action(async (opts: { method?: string; epochs?: string; limit?: string; quiet?: boolean }) => {
    const { quickstartCommand } = await import("./commands/quickstart.js");
    process.exitCode = await quickstartCommand(opts);
  });

(await import("./commands/cache.js")).registerCacheCommand(program);

const plugin = program.command("plugin").description("write selfsup plugins");
plugin
  .command("new")
  .description("create a plugin package: a method on core's method kit, its conformance test, a README")
  .argument("<name>", "npm package name, e.g. selfsup-plugin-foo")
  .option("--dir <dir>", "directory to create (default: ./<name without scope>)")
  .option("--method <name>", "name of the skeleton's method (default: from the package name)")
  .action(async (name: string, opts: { dir?: string; method?: string }) => {
    const { pluginNew } = await import("./commands/plugin-new.js");
    const dir = await pluginNew(name, opts);
    process.stdout.write(
      `created ${dir}\nnext: cd ${path.relative(process.cwd(), dir) || "."} && npm install && npm run build && npm test\n`,
    );
  });

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // help and version are not errors; everything else commander refuses is a usage error
    if (
      err.code === "commander.helpDisplayed" ||
      err.code === "commander.version" ||
      err.code === "commander.help"
    )
      return EXIT.ok;
    return EXIT.usage;
  }
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof ConfigError || err instanceof RegistryError) {
    process.stderr.write(`selfsup: ${msg}\n`);
    return EXIT.usage;
  }
  if (err instanceof CliError) {
    process.stderr.write(`selfsup: ${msg}\n`);
    return err.exitCode;
  }
  if (err instanceof StoreError && err.code === "invalid_input") {
    process.stderr.write(`selfsup: ${msg}\n`);
    return EXIT.usage;
  }
  process.stderr.write(`selfsup: ${msg}\n`);
  if (process.env.SELFSUP_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return EXIT.failure;
}

// `selfsup train --json | head`: when the reader of stdout goes away, drop further output rather
// than die of an unhandled EPIPE in the middle of a run (training, checkpoints and the store go on).
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
});

program.parseAsync(process.argv).then(
  () => {
    // Leave when the work is done even if a library left a timer or socket open.
    // (worker and serve resolve only when they shut down.)
    const code = typeof process.exitCode === "number" ? process.exitCode : 0;
    setImmediate(() => process.exit(code));
  },
  (err: unknown) => {
    process.exitCode = report(err);
    setImmediate(() => process.exit(process.exitCode as number));
  },
);
