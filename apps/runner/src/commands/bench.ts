/**
 * `selfsup bench`: @selfsup/core's benchmark runner (kernels, supervised sanity run) plus the
 * per-method sections of the installed method packages (contrastive: images/s, kNN and 10-label
 * probe on the MNIST digits against raw pixels and a random encoder). Arguments go to core's
 * runner: --backend, --only <sections>, --epochs N, --quick.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CliError, EXIT } from "../exit-codes.js";

interface BenchContext {
  args: { quick: boolean; epochs?: number };
  write(line: string): void;
}

interface CoreBench {
  addBenchSection(
    section: { name: string; description: string; run(ctx: BenchContext): Promise<void> },
    opts?: { before?: string },
  ): void;
  runBench(argv?: readonly string[], write?: (line: string) => void): Promise<string[]>;
  benchSections: Array<{ name: string }>;
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
  if (!core.benchSections.some((s) => s.name === "contrastive")) {
    try {
      const { benchContrastive } = (await import("@selfsup/method-contrastive/bench")) as {
        benchContrastive(opts: {
          quick?: boolean;
          epochs?: number;
          log?: (line: string) => void;
        }): Promise<unknown>;
      };
      core.addBenchSection({
        name: "contrastive",
        description:
          "SimCLR, MoCo v2, BYOL, SimSiam, Barlow Twins, VICReg on the MNIST digits: images/s, kNN and 10-label probe vs raw pixels and random init",
        async run(ctx) {
          await benchContrastive({
            quick: ctx.args.quick,
            ...(ctx.args.epochs !== undefined ? { epochs: ctx.args.epochs } : {}),
            log: (line) => ctx.write(`  ${line}`),
          });
        },
      });
    } catch (err) {
      process.stderr.write(`warning: no contrastive bench section (${(err as Error).message})\n`);
    }
  }
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
