/**
 * `selfsup cache ls|rm`: the packed sample caches under $SELFSUP_HOME/cache (image-folder writes one
 * per folder and sample size; see @selfsup/core's sample-cache). `ls` checks each file (header,
 * size, trailer) and says what it holds; `rm` deletes the named ones, `--all`, or `--bad` (torn or
 * partial files a killed run left).
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { cacheDir, listCaches } from "@selfsup/core";
import type { Command } from "commander";
import { CliError, EXIT } from "../exit-codes.js";

function mib(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

export async function cacheLs(opts: { dir?: string; json?: boolean }, out = process.stdout): Promise<number> {
  const dir = path.resolve(opts.dir ?? cacheDir());
  const entries = await listCaches(dir);
  if (opts.json) {
    out.write(`${JSON.stringify(entries, null, 2)}\n`);
    return EXIT.ok;
  }
  if (entries.length === 0) {
    out.write(`no sample caches in ${dir}\n`);
    return EXIT.ok;
  }
  out.write(`sample caches in ${dir}:\n`);
  let total = 0;
  for (const e of entries) {
    total += e.bytes;
    const m = e.meta;
    const what = m
      ? `${m.count} samples ${m.shape.join("x")} (${String(m.options.resize ?? "")}) of ${m.source}${m.bad?.length ? `, ${m.bad.length} bad files` : ""}`
      : `NOT USABLE: ${e.problem}`;
    out.write(`  ${e.name}  ${mib(e.bytes)}  ${e.modified.toISOString().slice(0, 19)}Z  ${what}\n`);
  }
  out.write(`${entries.length} files, ${mib(total)}\n`);
  return EXIT.ok;
}

export async function cacheRm(
  names: string[],
  opts: { dir?: string; all?: boolean; bad?: boolean },
  out = process.stdout,
): Promise<number> {
  const dir = path.resolve(opts.dir ?? cacheDir());
  const entries = await listCaches(dir);
  if (names.length === 0 && !opts.all && !opts.bad)
    throw new CliError("cache rm: name the cache files to remove, or --all, or --bad", EXIT.usage);
  const chosen = new Set<string>();
  for (const n of names) {
    const e = entries.find((c) => c.name === n || c.path === path.resolve(n) || c.name.startsWith(n));
    if (!e)
      throw new CliError(
        `cache rm: no cache file ${JSON.stringify(n)} in ${dir} (see selfsup cache ls)`,
        EXIT.usage,
      );
    chosen.add(e.path);
  }
  for (const e of entries)
    if (opts.all || (opts.bad && (e.partial || e.problem !== undefined))) chosen.add(e.path);
  for (const p of chosen) {
    await rm(p, { force: true });
    out.write(`removed ${p}\n`);
  }
  if (chosen.size === 0) out.write("nothing to remove\n");
  return EXIT.ok;
}

/** Adds `cache ls` and `cache rm` to the CLI. */
export function registerCacheCommand(program: Command): void {
  const cache = program
    .command("cache")
    .description("the packed sample caches image-folder writes under $SELFSUP_HOME/cache");
  cache
    .command("ls")
    .description("list the cache files: samples, shape, source folder, size; torn or partial ones flagged")
    .option("--dir <dir>", "cache folder (default $SELFSUP_HOME/cache)")
    .option("--json", "print JSON")
    .action(async (opts: { dir?: string; json?: boolean }) => {
      process.exitCode = await cacheLs(opts);
    });
  cache
    .command("rm")
    .description("remove cache files (by name or a prefix of it), --all, or --bad (torn and partial ones)")
    .argument("[names...]", "cache file names as `cache ls` shows them")
    .option("--dir <dir>", "cache folder (default $SELFSUP_HOME/cache)")
    .option("--all", "remove every cache file")
    .option("--bad", "remove the torn and partial files")
    .action(async (names: string[], opts: { dir?: string; all?: boolean; bad?: boolean }) => {
      process.exitCode = await cacheRm(names, opts);
    });
}
