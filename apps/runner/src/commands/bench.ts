/**
 * `selfsup bench`: @selfsup/core's benchmark runner (kernels, supervised sanity run) plus one
 * quality section per installed plugin that has methods (images/s, kNN and 10-label probe on the
 * MNIST digits against raw pixels and a random encoder; section name: the plugin's short name,
 * e.g. "contrastive"), and the opt-in "throughput" table over every installed method
 * (`selfsup bench throughput`). Arguments go to core's runner: section names, --backend,
 * --only <sections>, --epochs N, --quick.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Plugin, Registry } from "@selfsup/core";
import { CliError, EXIT } from "../exit-codes.js";
import { loadRegistry } from "../plugins.js";

interface BenchContext {
  args: { quick: boolean; epochs?: number };
  write(line: string): void;
}

/** "@selfsup/method-contrastive" -> "contrastive", "selfsup-plugin-swav" -> "selfsup-plugin-swav". */
export function sectionName(pluginName: string): string {
  return pluginName.replace(/^@selfsup\/method-/, "").replace(/^@[^/]+\//, "");
}

interface BenchSectionLike {
  name: string;
  description: string;
  optIn?: boolean;
  run(ctx: BenchContext): Promise<void>;
}

interface CoreBench {
  addBenchSection(section: BenchSectionLike, opts?: { before?: string }): void;
  throughputSection(registry: Registry): BenchSectionLike;
  runBench(argv?: readonly string[], write?: (line: string) => void): Promise<string[]>;
  benchSections: Array<{ name: string }>;
  benchQuality(opts: {
    plugins: Plugin[];
    title?: string;
    quick?: boolean;
    epochs?: number;
    log?: (line: string) => void;
    resultsFile?: string;
  }): Promise<unknown>;
}

/** Path of core's bench entry next to its installed dist/index.js (not in core's package exports). */
export function benchEntry(): string {
  const indexPath = fileURLToPath(import.meta.resolve("@selfsup/core"));
  return path.join(path.dirname(indexPath), "bench", "main.js");
}

export async function benchCommand(args: string[]): Promise<number> {
  const entry = benchEntry();
  if (!existsSync(entry)) {
    throw new CliError(
      `@selfsup/core's benchmark entry is missing (${entry}); build core first: pnpm --filter @selfsup/core build`,
      EXIT.failure,
    );
  }
  const core = (await import(pathToFileURL(entry).href)) as CoreBench;
  // One quality section per installed plugin with methods (core's benchQuality over its plugin):
  // a new method, or a new method package, gets its rows without an edit here.
  const { registry, failures } = await loadRegistry();
  for (const f of failures) process.stderr.write(`warning: plugin ${f.packageName} not loaded: ${f.error}\n`);
  for (const plugin of registry.listPlugins()) {
    const methods = plugin.methods ?? [];
    if (methods.length === 0 || plugin.name === "@selfsup/core") continue;
    const name = sectionName(plugin.name);
    if (core.benchSections.some((s) => s.name === name)) continue;
    core.addBenchSection({
      name,
      description: `${methods.map((m) => m.name).join(", ")} (${plugin.name}) on the MNIST digits: images/s, kNN and 10-label probe vs raw pixels and random init`,
      async run(ctx) {
        await core.benchQuality({
          plugins: [plugin],
          title: name,
          quick: ctx.args.quick,
          ...(ctx.args.epochs !== undefined ? { epochs: ctx.args.epochs } : {}),
          log: (line) => ctx.write(`  ${line}`),
          // machine-readable rows next to the printed tables (SELFSUP_BENCH_RESULTS moves them)
          resultsFile: path.join(
            process.env.SELFSUP_BENCH_RESULTS ?? path.join(process.cwd(), "bench", "results"),
            `${name}${ctx.args.quick ? "-quick" : ""}.json`,
          ),
        });
      },
    });
  }
  // Opt-in: every installed image method on every backend present.
  if (!core.benchSections.some((s) => s.name === "throughput"))
    core.addBenchSection(core.throughputSection(registry));
  try {
    const failed = await core.runBench(args.filter((a) => a !== "--"));
    if (failed.length > 0) process.stderr.write(`bench sections failed: ${failed.join(", ")}\n`);
    return failed.length > 0 ? EXIT.failure : EXIT.ok;
  } catch (err) {
    const msg = (err as Error).message;
    if (msg.startsWith("bench:")) throw new CliError(msg, EXIT.usage);
    throw err;
  }
}
