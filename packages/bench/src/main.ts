/**
 * `pnpm bench`: initialises the backend, then runs every bench section in order and prints its
 * figures. Built-in sections: "kernels" (training-kernel micro-benchmarks of kernels.ts) and
 * "supervised" (the supervised convnet sanity run on the MNIST digits).
 *
 * Other packages add sections with `addBenchSection({ name, description, run })` before calling
 * `runBench()`: this is the seam for new sections (the runner's `selfsup bench` adds the
 * per-plugin quality sections and the throughput table there, and any other section, e.g. one on
 * data loading, goes in the same way). Benchmarks print figures; nothing here asserts on time.
 *
 * The backend defaults to "auto", the best one present (tensorflow-gpu, tensorflow, then wasm), as
 * for training; `--backend wasm` measures the portable one.
 *
 *   node packages/bench/dist/main.js [section ...] [--backend auto|wasm|cpu|tensorflow|...]
 *                                         [--only kernels,supervised] [--epochs N] [--quick]
 *                                         [--methods simclr,byol] [--seeds N] [--no-store]
 *                                         [--shapes convnet,resnet18]
 *                                         [--backends wasm,wasm-threads,tensorflow,webgpu,cpu]
 *
 * --methods narrows the quality sections and the throughput table; --shapes (name prefixes) and
 * --backends narrow the throughput table.
 *
 * Sections marked optIn (the "throughput" table, which the runner adds with the installed methods)
 * run only when named.
 */

import { pathToFileURL } from "node:url";
import {
  BACKEND_NAMES,
  type BackendReport,
  type BackendRequest,
  formatBackendReport,
  initBackend,
  tf,
} from "@selfsup/core";
import { benchKernels, formatKernelTable } from "./kernels.js";
import { formatSupervisedResult, runSupervisedBench } from "./supervised.js";
import {
  benchThroughput,
  THROUGHPUT_SHAPES,
  type ThroughputBackend,
  type ThroughputOptions,
} from "./throughput.js";

/**
 * The "throughput" section (opt-in): images/s, ms/step, GFLOP/s, memory and leaks per backend,
 * method and shape; see throughput.ts. `registry` supplies the methods (the runner passes the
 * installed plugins').
 */
export function throughputSection(registry: ThroughputOptions["registry"]): BenchSection {
  return {
    name: "throughput",
    description:
      "training step per backend x method x shape (convnet b256, resnet18 b128, vit-tiny b128): img/s, ms/step, GFLOP/s, peak memory, leaks",
    optIn: true,
    async run(ctx) {
      const { methods, shapes, backends } = ctx.args;
      const known = THROUGHPUT_SHAPES.map((s) => s.name.split(" ")[0]);
      const unknownShape = (shapes ?? []).filter((p) => !known.some((k) => k?.startsWith(p)));
      if (unknownShape.length > 0)
        throw new Error(`bench: --shapes ${unknownShape.join(",")}: shapes are ${known.join(", ")}`);
      await benchThroughput({
        registry,
        steps: ctx.args.quick ? 1 : 2,
        ...(methods ? { methods } : {}),
        ...(shapes
          ? { shapes: THROUGHPUT_SHAPES.filter((s) => shapes.some((p) => s.name.startsWith(p))) }
          : {}),
        ...(backends
          ? { backends: backends as ThroughputBackend[] }
          : ctx.args.backend !== "wasm" && ctx.args.backend !== "auto"
            ? { backends: [ctx.args.backend] }
            : {}),
        log: (line) => ctx.write(line),
      });
    },
  };
}

export interface BenchArgs {
  backend: BackendRequest;
  /** Run only these sections (default: all). */
  only?: string[];
  /** Smaller runs for a quick look (CI smoke). */
  quick: boolean;
  /** Epochs of training sections that have them. */
  epochs?: number;
  /** Quality sections and the throughput table: only these methods (default: every installed one). */
  methods?: string[];
  /** Quality sections: pretrainings per method, seeds 0..n-1 (default 1). */
  seeds?: number;
  /** Quality sections in the runner: also store the rows as runs (default true; --no-store). */
  store: boolean;
  /** Throughput table: only these shapes (name prefixes) / backends. */
  shapes?: string[];
  backends?: string[];
}

export interface BenchContext {
  args: BenchArgs;
  backend: BackendReport;
  write(line: string): void;
}

export interface BenchSection {
  name: string;
  description: string;
  /** Runs only when named (`pnpm bench <name>` or --only): too long for every `pnpm bench`. */
  optIn?: boolean;
  run(ctx: BenchContext): Promise<void>;
}

const kernelsSection: BenchSection = {
  name: "kernels",
  description: "training kernels: ms per call and GFLOP/s per backend",
  async run(ctx) {
    ctx.write(formatKernelTable(await benchKernels({ quick: ctx.args.quick })));
  },
};

/** Whether the current backend can train convolutions (wasm needs selfsup's Conv2DBackpropFilter). */
export function canTrainConvolutions(): boolean {
  return tf.getKernel("Conv2DBackpropFilter", tf.getBackend()) !== undefined;
}

const supervisedSection: BenchSection = {
  name: "supervised",
  description: "supervised convnet on the MNIST digits: test accuracy (target >= 97%), images/s, time",
  async run(ctx) {
    if (!canTrainConvolutions()) {
      ctx.write(
        `  skipped: the ${tf.getBackend()} backend has no Conv2DBackpropFilter kernel, so it cannot train a convnet`,
      );
      return;
    }
    const r = await runSupervisedBench({
      epochs: ctx.args.epochs ?? (ctx.args.quick ? 1 : 3),
      trainLimit: ctx.args.quick ? 2000 : undefined,
      log: (line) => ctx.write(`  ${line}`),
      progressEvery: 50,
    });
    ctx.write(formatSupervisedResult(r));
    if (ctx.args.quick) return;
    if (r.accuracy < 0.9)
      ctx.write("  WARNING: far below the 97% target: something in the training stack is likely broken");
    else if (r.accuracy < 0.97) {
      ctx.write(
        "  note: below the 97% target; the convnet's global pooling limits it on 8,000 digits (see bench/supervised.ts)",
      );
    }
  },
};

/** Sections `runBench` runs, in order. Add yours with `addBenchSection`. */
export const benchSections: BenchSection[] = [kernelsSection, supervisedSection];

export function addBenchSection(section: BenchSection, opts: { before?: string } = {}): void {
  if (benchSections.some((s) => s.name === section.name))
    throw new Error(`bench section "${section.name}" is already registered`);
  const at = opts.before ? benchSections.findIndex((s) => s.name === opts.before) : -1;
  if (at >= 0) benchSections.splice(at, 0, section);
  else benchSections.push(section);
}

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { backend: "auto", quick: false, store: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`bench: ${a} needs a value`);
      return v;
    };
    if (a === "--backend") {
      const b = value();
      if (!(BACKEND_NAMES as readonly string[]).includes(b))
        throw new Error(`bench: --backend ${b} is not one of ${BACKEND_NAMES.join(", ")}`);
      args.backend = b as BackendRequest;
    } else if (a === "--only") args.only = value().split(",").filter(Boolean);
    else if (a === "--epochs") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`bench: --epochs must be a positive integer`);
      args.epochs = n;
    } else if (a === "--seeds") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`bench: --seeds must be a positive integer`);
      args.seeds = n;
    } else if (a === "--methods") args.methods = value().split(",").filter(Boolean);
    else if (a === "--no-store") args.store = false;
    else if (a === "--quick") args.quick = true;
    else if (a === "--shapes") args.shapes = value().split(",").filter(Boolean);
    else if (a === "--backends") {
      const list = value().split(",").filter(Boolean);
      const ok = [...BACKEND_NAMES.filter((b) => b !== "auto"), "wasm-threads"];
      const bad = list.filter((b) => !ok.includes(b));
      if (bad.length > 0) throw new Error(`bench: --backends ${bad.join(",")}: use ${ok.join(", ")}`);
      args.backends = list;
    } else if (a === "--") continue;
    else if (/^[a-z][\w-]*$/.test(a)) args.only = [...(args.only ?? []), a];
    else
      throw new Error(
        `bench: unknown argument ${a}; use section names, --backend, --only, --epochs, --quick, --methods, --seeds, --no-store, --shapes, --backends`,
      );
  }
  return args;
}

/** Runs the selected sections; returns the names of sections that threw (they are reported, not fatal). */
export async function runBench(
  argv: readonly string[] = process.argv.slice(2),
  write: (line: string) => void = (l) => console.log(l),
): Promise<string[]> {
  const args = parseBenchArgs(argv);
  const unknown = (args.only ?? []).filter((n) => !benchSections.some((s) => s.name === n));
  if (unknown.length > 0)
    throw new Error(
      `bench: unknown section(s) ${unknown.join(", ")}; sections: ${benchSections.map((s) => s.name).join(", ")}`,
    );
  const backend = await initBackend(args.backend);
  write(formatBackendReport(backend));
  const failed: string[] = [];
  for (const section of benchSections) {
    if (args.only ? !args.only.includes(section.name) : section.optIn) continue;
    write(`\n== ${section.name}: ${section.description}`);
    const started = performance.now();
    try {
      await section.run({ args, backend, write });
    } catch (err) {
      failed.push(section.name);
      write(`  FAILED: ${(err as Error).stack ?? String(err)}`);
    }
    write(`  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  return failed;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runBench().then(
    (failed) => {
      process.exitCode = failed.length > 0 ? 1 : 0;
    },
    (err: unknown) => {
      console.error((err as Error).message ?? err);
      process.exitCode = 2;
    },
  );
}
